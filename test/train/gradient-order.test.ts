import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { createNodeRuntime } from '../../src/graph/index.js';
import { TrainIO, buildStageTrainGraph } from '../../src/train/step/index.js';
import { GOLDEN } from '../model/golden.js';

/**
 * The train graph's gradient outputs are ordered so that ONNX Runtime computes each gradient when the backward
 * pass reaches it instead of at the end (graphs.ts, orderGradientOutputs; DESIGN.md issue 13, round fourteen).
 * This runs the stage-2 graph at batch 1 once in ONNX Runtime with profiling on and reads the order in which its
 * nodes really executed: each gradient's final node must run in the order the backward pass makes the gradients.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), 'sab-gradorder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gradient outputs in the order of availability', () => {
  it('ONNX Runtime runs each gradient output as soon as the backward pass has made it (stage 2, batch 1)', async () => {
    const weights = loadCheckpoint(path.join(GOLDEN, 'bone_sam.pth'));
    const { graph } = buildStageTrainGraph({
      stage: 'sam',
      weights,
      batch: 1,
      samInput: 'embedding',
      attention: true,
      trainable: ['attention_fusion.', 'mask_decoder.'],
    });
    expect(graph.takesOne).toBe(true);
    await createNodeRuntime({ threads: 2 }).lower(graph.g, { training: true });

    // Each gradient output's node, and the record position of the gradient it multiplies by `one`.
    const position = new Map<string, number>();
    graph.g.records.forEach((r, i) => r.outputs.forEach((o) => position.set(o, i)));
    const finals = graph.params.map((key) => {
      const r = graph.g.records.find((rec) => rec.outputs[0] === `${TrainIO.gradPrefix}${key}`)!;
      expect(r.opType).toBe('Mul');
      return { key, node: r.name, madeAt: position.get(r.inputs[0]!)! };
    });
    expect(finals.length).toBeGreaterThan(50);

    const session = await ort.InferenceSession.create(graph.g.toBytes(), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      enableCpuMemArena: false,
      enableMemPattern: false,
      enableProfiling: true,
      profileFilePrefix: path.join(dir, 'profile'),
    });
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of graph.g.inputs) {
      // Every train-graph input is declared with a full shape.
      const dims = input.shape!.map(Number);
      const size = dims.reduce((p, d) => p * d, 1);
      const param = graph.params.includes(input.name) ? weights.get(input.name) : undefined;
      const data = param ? Float32Array.from(param.data as Float32Array) : new Float32Array(size).fill(input.name === TrainIO.one ? 1 : 0.25);
      feeds[input.name] = new ort.Tensor('float32', data, dims);
    }
    await session.run(feeds);
    session.endProfiling();
    await session.release();
    // onnxruntime-node does not return the profile's path; it is the only file in the temp dir.
    const [file] = readdirSync(dir).filter((f) => f.startsWith('profile'));
    const events = JSON.parse(readFileSync(path.join(dir, file!), 'utf8')) as { cat: string; name: string }[];
    const ran = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')).map((e) => e.name.slice(0, -'_kernel_time'.length));
    const ranAt = new Map(ran.map((name, i) => [name, i]));

    const byAvailability = [...finals].sort((a, b) => a.madeAt - b.madeAt);
    const executed = byAvailability.map((f) => ranAt.get(f.node));
    expect(executed.every((i) => i !== undefined)).toBe(true);
    for (let i = 1; i < executed.length; i++) expect(executed[i]!, `${byAvailability[i]!.key} after ${byAvailability[i - 1]!.key}`).toBeGreaterThan(executed[i - 1]!);
    // Before the ordering, the first gradient output ran after ~all of the data-gradient chain; now the
    // earliest gradient (the last layer's) runs in the first half of the step.
    expect(executed[0]!).toBeLessThan(ran.length / 2);
  }, 120_000);
});
