import { defaultParameterMapNode, readParameterFilesNode, writeParameterFilesNode } from '@itk-wasm/elastix';
import { Image, ImageType } from 'itk-wasm';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { writeFileAtomic } from '../io/atomic.js';
import { downsampleByBlocks } from '../volume/resample.js';
import type { Volume } from '../volume/types.js';
import { createVolume } from '../volume/volume.js';
import { itkGeometry, parameterObjectToWorld, TransformError, type ElastixParameterMap, type ElastixParameterObject } from './elastix-transform.js';

/** Registration models `sab transfer-labels --register` offers. */
export type RegistrationKind = 'rigid' | 'affine';

export interface RegistrationOptions {
  kind: RegistrationKind;
  /** Multi-resolution levels (default 4). */
  resolutions?: number;
  /** Optimizer iterations per level (default 300). */
  iterations?: number;
  /** Mutual-information samples per iteration (default 4096). */
  samples?: number;
  /**
   * Images with finer voxels are block-averaged to about this spacing (mm) before registering (default 0.8):
   * rigid/affine alignment does not need 0.4 mm in-plane detail, and elastix's pyramid cost scales with voxels.
   */
  registrationSpacingMm?: number;
}

export interface RegistrationResult {
  /** elastix's optimised transform parameter object (what `--transform-out` writes). */
  parameterObject: ElastixParameterObject;
  /** The same transform as a RAS world map: fixed (target) point -> moving (source) point. */
  fixedToMovingWorld: Float64Array;
}

/** A volume as an itk-wasm float32 image in ITK's LPS physical space (voxels are copied to float32). */
export function volumeToItkImage(vol: Volume): Image {
  const g = itkGeometry(vol);
  const image = new Image(new ImageType(3, 'float32', 'Scalar', 1));
  image.size = g.size;
  image.spacing = g.spacing;
  image.origin = g.origin;
  image.direction = Float64Array.from(g.directionRowMajor);
  image.data = vol.data instanceof Float32Array ? Float32Array.from(vol.data) : Float32Array.from(vol.data);
  return image;
}

/**
 * elastix's default rigid (EulerTransform) or affine map, adjusted: Mattes mutual information over a
 * multi-resolution pyramid (it handles different contrasts), no result image (we resample the mask ourselves),
 * and centre-of-rotation at the fixed image centre.
 */
export async function registrationParameterMap(opts: RegistrationOptions): Promise<ElastixParameterMap> {
  const resolutions = opts.resolutions ?? 4;
  const { parameterMap } = await defaultParameterMapNode(opts.kind, { numberOfResolutions: resolutions });
  const map = { ...(parameterMap as ElastixParameterMap) };
  map.Metric = ['AdvancedMattesMutualInformation'];
  map.NumberOfHistogramBins = ['32'];
  map.MaximumNumberOfIterations = [String(opts.iterations ?? 300)];
  map.NumberOfSpatialSamples = [String(opts.samples ?? 4096)];
  map.WriteResultImage = ['false'];
  map.ResampleInterpolator = ['FinalNearestNeighborInterpolator'];
  map.AutomaticTransformInitialization = ['false'];
  map.ErodeMask = ['false'];
  return map;
}

/** Registers `moving` onto `fixed` with elastix (WASM, in process). Errors (e.g. no overlap) become TransformError. */
/** `vol` block-averaged so no axis is finer than `spacingMm` by a factor of 2 or more (world geometry kept). */
function coarsened(vol: Volume, spacingMm: number): Volume {
  const factors = vol.spacing.map((s) => Math.max(1, Math.floor(spacingMm / s + 1e-6)));
  if (factors.every((f) => f === 1)) return vol;
  const d = downsampleByBlocks(vol.data, vol, factors);
  return createVolume(d.data, d.dims, d.affine);
}

export async function registerVolumes(fixed: Volume, moving: Volume, opts: RegistrationOptions): Promise<RegistrationResult> {
  const map = await registrationParameterMap(opts);
  const spacing = opts.registrationSpacingMm ?? 0.8;
  const [f, m] = [coarsened(fixed, spacing), coarsened(moving, spacing)];
  let result;
  try {
    result = await elastixInWorker([map], volumeToItkImage(f), volumeToItkImage(m));
  } catch (err) {
    throw new TransformError(`elastix ${opts.kind} registration failed: ${firstLines(err instanceof Error ? err.message : err)}`);
  }
  // The transform is a world map, independent of the grid it was estimated on; its file names the output grid
  // transformix would use, so record the full-resolution fixed grid there (elastix writes Direction column-major).
  const g = itkGeometry(fixed);
  const parameterObject = result.map((stage) => ({
    ...stage,
    Size: g.size.map(String),
    Index: ['0', '0', '0'],
    Spacing: g.spacing.map(String),
    Origin: g.origin.map(String),
    Direction: [0, 1, 2].flatMap((c) => [0, 1, 2].map((r) => String(g.directionRowMajor[3 * r + c]))),
  }));
  const fixedToMovingWorld = parameterObjectToWorld(parameterObject, 'elastix result');
  if (!fixedToMovingWorld.every(Number.isFinite)) throw new TransformError(`elastix ${opts.kind} registration did not converge (non-finite parameters)`);
  return { parameterObject, fixedToMovingWorld };
}

// The registration runs in a worker thread: the WASM pipeline computes synchronously for seconds to minutes, which
// would freeze the caller's event loop (progress output, servers, test runners). The worker only needs the
// package, so its code is a small inline script given the package's resolved entry.
const ELASTIX_ENTRY = pathToFileURL(createRequire(import.meta.url).resolve('@itk-wasm/elastix')).href;
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const captured = [];
console.log = console.error = (...a) => { captured.push(a.map(String).join(' ')); };
import(workerData.entry).then(async ({ elastixNode }) => {
  try {
    const r = await elastixNode(workerData.parameterObject, { fixed: workerData.fixed, moving: workerData.moving });
    parentPort.postMessage({ ok: true, parameterObject: r.transformParameterObject });
  } catch (err) {
    parentPort.postMessage({ ok: false, message: err instanceof Error ? err.message : 'elastix aborted without a message', captured });
  }
}, (err) => parentPort.postMessage({ ok: false, message: 'cannot load @itk-wasm/elastix: ' + err.message, captured }));
`;

type WorkerReply = { ok: true; parameterObject: ElastixParameterObject } | { ok: false; message: string; captured: string[] };

function elastixInWorker(parameterObject: ElastixParameterObject, fixed: Image, moving: Image): Promise<ElastixParameterObject> {
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { entry: ELASTIX_ENTRY, parameterObject, fixed: { ...fixed }, moving: { ...moving } },
      transferList: [(fixed.data as Float32Array).buffer as ArrayBuffer, (moving.data as Float32Array).buffer as ArrayBuffer],
    });
    let settled = false;
    worker.once('message', (reply: WorkerReply) => {
      settled = true;
      void worker.terminate();
      if (reply.ok) resolvePromise(reply.parameterObject);
      else reject(new Error([reply.message, ...reply.captured.filter((l) => !/^Build module in Debug mode|^Exception while running pipeline/.test(l))].join('\n')));
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the elastix worker exited with code ${code}`));
    });
  });
}

/**
 * Runs an itk-wasm pipeline call with console.log/console.error captured: on a C++ exception itk-wasm prints
 * the pipeline's whole stdout/stderr there and throws a bare number. The captured text goes into the error.
 */
async function quietly<T>(run: () => Promise<T>): Promise<T> {
  // The WASM pipeline runs synchronously for seconds: give pending I/O (progress output, RPC) a turn first.
  await new Promise((r) => setImmediate(r));
  const captured: string[] = [];
  const { log, error } = console;
  const keep = (...args: unknown[]): void => {
    captured.push(args.map(String).join(' '));
  };
  console.log = keep;
  console.error = keep;
  try {
    return await run();
  } catch (err) {
    const message = err instanceof Error ? err.message : 'elastix aborted without a message';
    throw new Error([message, ...captured.filter((l) => !/^Build module in Debug mode|^Exception while running pipeline/.test(l))].join('\n'));
  } finally {
    console.log = log;
    console.error = error;
    await new Promise((r) => setImmediate(r));
  }
}

/** elastix prints long logs; the first meaningful lines name the problem. */
function firstLines(raw: unknown): string {
  const text = typeof raw === 'string' ? raw : String(raw);
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !/^-+$/.test(l));
  const useful = lines.filter((l) => /error|exception|description|too many|outside|failed|aborted/i.test(l));
  return (useful.length ? useful : lines).slice(0, 4).join(' | ').slice(0, 600);
}

/** Reads an elastix TransformParameters text file (and nothing else: chained initial transforms are an error). */
export async function readTransformFile(path: string): Promise<ElastixParameterObject> {
  const abs = resolve(path);
  try {
    if (!statSync(abs).isFile()) throw new Error('not a file');
  } catch {
    throw new TransformError(`${path}: no such transform file`);
  }
  // Check the text first: elastix's reader aborts with an opaque message on binary or unrelated files.
  const head = readFileSync(abs).subarray(0, 1 << 20);
  if (head.includes(0) || !/\(\s*Transform\s+"/.test(head.toString('latin1'))) {
    throw new TransformError(`${path}: not an elastix transform parameter file (no (Transform "...") entry)`);
  }
  let obj: ElastixParameterObject;
  try {
    obj = (await quietly(() => readParameterFilesNode({ parameterFiles: [abs] }))).parameterObject as ElastixParameterObject;
  } catch (err) {
    throw new TransformError(`${path}: not a readable elastix parameter file (${firstLines(err instanceof Error ? err.message : err)})`);
  }
  if (!Array.isArray(obj) || obj.length === 0 || !obj[0]!.Transform) throw new TransformError(`${path}: not an elastix transform parameter file (no Transform entry)`);
  const initial = obj[0]!.InitialTransformParameterFileName?.[0];
  if (initial && initial !== 'NoInitialTransform') {
    throw new TransformError(`${path}: chained transforms (InitialTransformParameterFileName ${initial}) are not supported; write the transform as one stage`);
  }
  parameterObjectToWorld(obj, path); // validates the transform type and parameters now, naming the file
  return obj;
}

/** Writes a one-stage transform parameter object as an elastix TransformParameters text file (atomically). */
export async function writeTransformFile(path: string, obj: ElastixParameterObject, inputs: readonly string[] = []): Promise<void> {
  if (obj.length !== 1) throw new TransformError(`${path}: only one-stage transforms can be written (got ${obj.length} stages)`);
  const dir = mkdtempSync(join(tmpdir(), 'sab-elastix-'));
  try {
    const file = join(dir, 'TransformParameters.0.txt');
    await quietly(() => writeParameterFilesNode([{ ...obj[0]!, InitialTransformParameterFileName: ['NoInitialTransform'] }], [file]));
    writeFileAtomic(path, readFileSync(file), inputs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
