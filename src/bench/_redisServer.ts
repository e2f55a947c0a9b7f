import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

// A real redis-server for the queue tests and `npm run bench queue`: 127.0.0.1, a free port, its own folder, AOF on (so a restart
// keeps every job), stopped by the test. Debian's redis-server is installed by .ci/install.d/redis.

export const REDIS_SERVER = process.env['SAB_REDIS_SERVER'] ?? '/usr/bin/redis-server';
export const HAVE_REDIS = existsSync(REDIS_SERVER);
export const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1, made with openssl. */
export function makeTlsFiles(dir: string): TlsFiles {
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=sab-test-ca']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf']);
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
}

export interface RedisServerOptions {
  password?: string;
  /** Serve TLS only (the plain port is closed). */
  tls?: TlsFiles;
}

export class RedisServer {
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly opts: RedisServerOptions,
  ) {}

  static async start(dir: string, opts: RedisServerOptions = {}): Promise<RedisServer> {
    const s = new RedisServer(dir, await freePort(), opts);
    await s.launch();
    return s;
  }

  get url(): string {
    const auth = this.opts.password ? `:${encodeURIComponent(this.opts.password)}@` : '';
    return `${this.opts.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    const args = ['--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--save', '', '--protected-mode', 'no'];
    if (this.opts.tls) {
      args.push('--port', '0', '--tls-port', String(this.port), '--tls-cert-file', this.opts.tls.cert, '--tls-key-file', this.opts.tls.key);
      args.push('--tls-ca-cert-file', this.opts.tls.ca, '--tls-auth-clients', 'no');
    } else args.push('--port', String(this.port));
    if (this.opts.password) args.push('--requirepass', this.opts.password);
    this.log = '';
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${this.log}`)), 15_000);
      const onData = (d: Buffer) => {
        this.log += d.toString();
        if (/Ready to accept connections/.test(this.log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}):\n${this.log}`));
      });
    });
  }

  /** SIGTERM: Redis flushes the AOF and exits. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await exited;
  }

  /** Stop, then start again on the same port with the same folder (and AOF). */
  async restart(downMs = 500): Promise<void> {
    await this.stop();
    await new Promise((r) => setTimeout(r, downMs));
    await this.launch();
  }
}
