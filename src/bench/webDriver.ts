import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startViewerServer, type ViewerServer } from '../cli/commands/serve.js';

/**
 * Drives the browser viewer in headless Debian Chromium (playwright-core): shared by the viewer's
 * end-to-end test (test/web) and `npm run bench:web`.
 */

/** What the page exposes for drivers (web/src/main.ts). */
declare global {
  interface Window {
    sabViewer: {
      state: () => unknown;
      voxelToClient: (i: number, j: number, k: number) => { x: number; y: number } | undefined;
      compareSliceShaders: () => { differing: number; bytes: number };
    };
  }
}

export const CHROMIUM_PATH = process.env['SAB_CHROMIUM'] ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * WebGPU in headless Chromium: with the GPU process enabled (no --disable-gpu) and --enable-unsafe-webgpu,
 * Chromium 156 offers SwiftShader's Vulkan as a WebGPU adapter (CPU-emulated; no GPU on this machine).
 * ANGLE-on-Vulkan with Mesa's lavapipe ICD returned no adapter.
 */
const WEBGPU_FLAGS = [...CHROMIUM_FLAGS.filter((f) => f !== '--disable-gpu'), '--enable-unsafe-webgpu', '--ignore-gpu-blocklist'];

/** Whether headless Chromium offers a WebGPU adapter here (and which). */
export async function webgpuAdapter(): Promise<string | undefined> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: WEBGPU_FLAGS });
  const server = await startViewerServer({ port: 0, host: '127.0.0.1' });
  try {
    const page = await browser.newPage();
    await page.goto(server.url); // a secure (loopback) context: navigator.gpu exists only there
    return await page.evaluate(async () => {
      const gpu = (navigator as { gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string } } | null> } }).gpu;
      const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
      return adapter ? `${adapter.info?.vendor ?? '?'} ${adapter.info?.architecture ?? ''}`.trim() : undefined;
    });
  } finally {
    await browser.close();
    await server.close();
  }
}

export interface ViewerState {
  volume: {
    name: string;
    dims: number[];
    dtype: string;
    affine: number[];
    format: string | null;
    /** sha256 of the voxel bytes, for a volume read from DICOM. */
    sha256: string | null;
  } | null;
  weights: { sam: boolean; vnet: boolean; names: string[]; cached: boolean };
  busy: boolean;
  segmented: { start: number; end: number; attention: boolean; ms: number } | null;
  lastPrompt: {
    slice: number;
    prompt: { kind: 'point'; ijk: [number, number, number]; label: 0 | 1 };
    clickToMaskMs: number;
    decodeMs: number;
    cached: boolean;
    /** Where the click's time went, ms (web/src/main.ts ClickPhases). */
    phases: Record<'input' | 'toWorker' | 'prep' | 'decoder' | 'post' | 'back' | 'apply' | 'frames', number>;
  } | null;
  runtime: { device: string; threads: number; isolated: boolean } | null;
  error: string | null;
  slice: number | null;
  exports: number;
}

export interface ViewerSession {
  server: ViewerServer;
  context: BrowserContext;
  page: Page;
  /** Every URL the browser requested, pages and workers. */
  requests: string[];
  /** Console errors and uncaught page errors. */
  errors: string[];
  state(): Promise<ViewerState>;
  /** CPU seconds used so far by this browser's processes, summed by Chromium process type (Linux /proc). */
  cpuByProcess(): Record<string, number>;
  close(): Promise<void>;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/**
 * CPU seconds (user + system) of the Chromium processes started with `profile`, and of their
 * descendants, by `--type=` (browser, renderer, gpu-process, utility, zygote). Live processes only.
 */
function chromiumCpu(profile: string): Record<string, number> {
  const procs = new Map<number, { ppid: number; type: string; cpu: number; root: boolean }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the parenthesised command name: state ppid ... utime(14) stime(15).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split(/[\0 ]/); // Chromium rewrites its children's titles: NULs become spaces
      const type = cmd.find((a) => a.startsWith('--type='))?.slice(7) ?? 'browser';
      procs.set(Number(name), {
        ppid: Number(f[1]),
        type,
        cpu: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS,
        root: type === 'browser' && cmd.includes(`--user-data-dir=${profile}`),
      });
    } catch {
      // exited while we read
    }
  }
  const ours = (pid: number): boolean => {
    for (let p = procs.get(pid), hops = 0; p && hops < 16; p = procs.get(p.ppid), hops++) if (p.root) return true;
    return false;
  };
  const out: Record<string, number> = {};
  for (const [pid, p] of procs) if (ours(pid)) out[p.type] = (out[p.type] ?? 0) + p.cpu;
  return out;
}

/** Serve the built viewer on a free port and open it in a fresh headless Chromium profile. */
export async function openViewer(
  options: { viewport?: { width: number; height: number }; query?: string; webgpu?: boolean; root?: string } = {},
): Promise<ViewerSession> {
  const server = await startViewerServer({ port: 0, host: '127.0.0.1', ...(options.root ? { root: options.root } : {}) });
  const profile = mkdtempSync(path.join(os.tmpdir(), 'sab-chromium-'));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: options.webgpu ? WEBGPU_FLAGS : CHROMIUM_FLAGS,
      viewport: options.viewport ?? { width: 1280, height: 800 },
      acceptDownloads: true,
    });
  } catch (err) {
    await server.close();
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const requests: string[] = [];
  const errors: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('request', (r) => requests.push(r.url()));
  page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && errors.push(`worker: ${m.text()}`)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(server.url + (options.query ?? ''));
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  const ctx = context;
  return {
    server,
    context: ctx,
    page,
    requests,
    errors,
    state: () => page.evaluate(() => window.sabViewer.state() as ViewerState),
    cpuByProcess: () => chromiumCpu(profile),
    close: async () => {
      await ctx.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Wait until the page is idle (no run in progress); fail fast when it reports an error. */
export async function waitIdle(s: ViewerSession, timeoutMs = 600_000): Promise<ViewerState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await s.state();
    if (st.error) throw new Error(`viewer error: ${st.error}`);
    if (!st.busy) return st;
    if (Date.now() > deadline) throw new Error('viewer still busy after the timeout');
    await s.page.waitForTimeout(200);
  }
}

/** Open the volume and the weights through the page's file inputs. */
export async function loadInputs(s: ViewerSession, volumeFile: string, weightFiles: string[]): Promise<ViewerState> {
  await s.page.setInputFiles('#weights-file', weightFiles);
  await s.page.waitForFunction(
    () => {
      const st = window.sabViewer.state() as ViewerState;
      return st.weights.sam || st.error !== null;
    },
    null,
    { timeout: 300_000 },
  );
  await waitIdle(s);
  return openVolume(s, volumeFile);
}

/** Open a volume through the file input: one NIfTI/NRRD file, or the files of a DICOM series. */
export async function openVolume(s: ViewerSession, files: string | string[]): Promise<ViewerState> {
  const before = (await s.state()).volume;
  await s.page.setInputFiles('#volume-file', files);
  await s.page.waitForFunction(
    (prev) => {
      const st = window.sabViewer.state() as ViewerState;
      return (st.volume !== null && JSON.stringify(st.volume) !== prev) || st.error !== null;
    },
    JSON.stringify(before),
    { timeout: 120_000 },
  );
  return waitIdle(s);
}

/** "Segment volume" over slices first..last (inclusive) and wait for it. */
export async function segmentSlices(s: ViewerSession, first: number, last: number, timeoutMs = 900_000): Promise<ViewerState> {
  await s.page.fill('#slice-first', String(first));
  await s.page.fill('#slice-last', String(last));
  await s.page.click('#segment');
  await s.page.waitForFunction(
    ([a, b]) => {
      const st = window.sabViewer.state() as ViewerState;
      return st.error !== null || (st.segmented?.start === a && st.segmented.end === b + 1 && !st.busy);
    },
    [first, last] as const,
    { timeout: timeoutMs, polling: 250 },
  );
  return waitIdle(s);
}

/** Show slice k in the slice view. */
export async function goToSlice(s: ViewerSession, k: number): Promise<void> {
  await s.page.fill('#slice', String(k));
  await s.page.press('#slice', 'Enter');
  await s.page.waitForFunction((kk) => (window.sabViewer.state() as ViewerState).slice === kk, k);
}

/** Click the screen position of voxel (i, j, k) with a real mouse event; resolves when the mask is updated. */
export async function clickVoxel(
  s: ViewerSession,
  ijk: [number, number, number],
  button: 'left' | 'right' = 'left',
): Promise<ViewerState> {
  const before = (await s.state()).lastPrompt;
  const pos = await s.page.evaluate(([i, j, k]) => window.sabViewer.voxelToClient(i, j, k), ijk);
  if (!pos) throw new Error(`voxel ${ijk.join(',')} is not on screen`);
  await s.page.mouse.click(pos.x, pos.y, { button });
  await s.page.waitForFunction(
    (prev) => {
      const st = window.sabViewer.state() as ViewerState;
      return st.error !== null || (st.lastPrompt !== null && st.lastPrompt.clickToMaskMs !== prev && !st.busy);
    },
    before?.clickToMaskMs ?? -1,
    { timeout: 300_000 },
  );
  return waitIdle(s);
}

/** Press "Export" and save the downloaded NIfTI to `file`. */
export async function exportMask(s: ViewerSession, file: string): Promise<string> {
  const download = s.page.waitForEvent('download', { timeout: 60_000 });
  await s.page.click('#export');
  const d = await download;
  await d.saveAs(file);
  return d.suggestedFilename();
}
