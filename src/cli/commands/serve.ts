import type { Command } from 'commander';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built viewer (web/dist, written by `npm run build`), relative to this module in src/ or dist/. */
export const VIEWER_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/**
 * Cross-origin isolation (COOP/COEP) lets the page use SharedArrayBuffer, which ONNX Runtime's
 * WASM threads need. The content security policy keeps every request on this origin: the scan and
 * the weights never leave the machine ('unsafe-eval': protobufjs compiles its ONNX encoders with
 * new Function).
 */
export const VIEWER_HEADERS: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
    "img-src 'self' data: blob:; connect-src 'self' data: blob:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

export interface ViewerServerOptions {
  port?: number;
  host?: string;
  root?: string;
}

export interface ViewerServer {
  url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...VIEWER_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

function handler(root: string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'method not allowed');
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      send(res, 400, 'bad request path');
      return;
    }
    let file = path.resolve(root, `.${rel}`);
    if (file !== root && !file.startsWith(root + path.sep)) {
      send(res, 403, 'forbidden');
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!existsSync(file) || !statSync(file).isFile()) {
      send(res, 404, 'not found');
      return;
    }
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    res.writeHead(200, { ...VIEWER_HEADERS, 'Content-Type': type, 'Content-Length': statSync(file).size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  };
}

/** Serve the built viewer; resolves once listening (port 0 = any free port). */
export async function startViewerServer(options: ViewerServerOptions = {}): Promise<ViewerServer> {
  const root = path.resolve(options.root ?? VIEWER_DIST);
  if (!existsSync(path.join(root, 'index.html'))) {
    throw new Error(`${root}: the web viewer is not built (no index.html); run \`npm run build\` in the package folder`);
  }
  const host = options.host ?? '127.0.0.1';
  const server = createServer(handler(root));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${host}:${options.port ?? 0} (${err.code ?? err.message})`)),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port ${v}: expected 0..65535 (0 = any free port)`);
  return n;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description(
      'Serve the browser viewer locally (with the COOP/COEP headers WASM threads need). Volumes and weights are opened ' +
        'in the browser and never leave this machine.',
    )
    .option('--port <n>', 'port (0 = any free port)', parsePort, 8377)
    .option('--host <addr>', 'interface to listen on', '127.0.0.1')
    .action(async (opts: { port: number; host: string }) => {
      const server = await startViewerServer({ port: opts.port, host: opts.host });
      process.stdout.write(`sab viewer: ${server.url}  (Ctrl+C to stop)\n`);
      const stop = () => void server.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
