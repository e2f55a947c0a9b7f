import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { register as registerConvert } from './commands/convert.js';
import { register as registerInfo } from './commands/info.js';
import { register as registerTrace } from './commands/trace.js';
import { register as registerSegment } from './commands/segment.js';
import { register as registerWeights } from './commands/weights.js';
import { register as registerEvaluate } from './commands/evaluate.js';
import { register as registerStats } from './commands/stats.js';
import { register as registerMesh } from './commands/mesh.js';
import { register as registerPreview } from './commands/preview.js';
import { register as registerPhantom } from './commands/phantom.js';
import { register as registerServe } from './commands/serve.js';
import { register as registerFinetune } from './commands/finetune.js';
import { register as registerQueue } from './commands/queue.js';
import { register as registerWorker } from './commands/worker.js';
import { register as registerDicomweb } from './commands/dicomweb.js';
import { register as registerTransferLabels } from './commands/transfer-labels.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The `sab` command tree. Each sub-command lives in its own module and only composes the library. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('sab')
    .description('SegmentAnyBone: segment every bone in an MRI volume (MobileSAM + depth attention on ONNX Runtime).')
    .version(packageVersion())
    .showHelpAfterError();
  registerConvert(program);
  registerInfo(program);
  registerSegment(program);
  registerWeights(program);
  registerTrace(program);
  registerEvaluate(program);
  registerStats(program);
  registerMesh(program);
  registerPreview(program);
  registerPhantom(program);
  registerServe(program);
  registerFinetune(program);
  registerQueue(program);
  registerWorker(program);
  registerDicomweb(program);
  registerTransferLabels(program);
  return program;
}
