// Starts a real Orthanc for the DICOMweb tests and `npm run bench dicom` (no run(): not a bench itself).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ORTHANC_BIN = process.env['SAB_ORTHANC'] ?? '/usr/sbin/Orthanc';
export const DICOMWEB_PLUGIN = process.env['SAB_ORTHANC_DICOMWEB'] ?? '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
export const haveOrthanc = (): boolean => existsSync(ORTHANC_BIN) && existsSync(DICOMWEB_PLUGIN);

export const USER = 'sab';
export const PASSWORD = 'orthanc-test-secret';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface OrthancOptions {
  /**
   * Serve https with this PEM key and certificate (see makeTestCertificates). Debian 12's Orthanc 1.10 crashes on
   * its own TLS (SslEnabled: its civetweb 1.15 calls a null OpenSSL 3 function pointer on the first handshake,
   * seen with gdb), so a Node https front on its own loopback port relays to Orthanc's http port.
   */
  tls?: { key: string; cert: string };
  /**
   * Accept only `Authorization: Bearer TOKEN` (an IncomingHttpRequestFilter Lua script, Orthanc's own hook: 403
   * otherwise) instead of basic auth.
   */
  bearerToken?: string;
}

export interface OrthancServer {
  /** http://127.0.0.1:PORT, or https://127.0.0.1:PORT with `tls` */
  url: string;
  /** The DICOMweb root: URL/dicom-web */
  dicomweb: string;
  /** REST call with the right credentials. */
  rest(p: string, init?: { method?: string; body?: Uint8Array }): Promise<unknown>;
  upload(file: string): Promise<void>;
  stop(): Promise<void>;
}

/** A throw-away CA and a server certificate for 127.0.0.1 signed by it, made with openssl in `dir`. */
export function makeTestCertificates(dir: string): { ca: string; key: string; cert: string } {
  const f = (n: string): string => path.join(dir, n);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=sab test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('server.ext'));
  return { ca: f('ca.pem'), key: f('server.key'), cert: f('server.pem') };
}

/** A TLS front on a free loopback port relaying every request to the http server at `target`. */
async function tlsFront(tls: { key: string; cert: string }, target: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = https.createServer({ key: readFileSync(tls.key), cert: readFileSync(tls.cert) }, (req, res) => {
    const up = http.request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/**
 * A real Orthanc with the DICOMweb plugin on a free loopback port, basic auth on (or a bearer token), DICOM port
 * disabled, storage in a temp dir removed at stop; optionally behind https.
 */
export async function startOrthanc(opts: OrthancOptions = {}): Promise<OrthancServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sab-orthanc-'));
  const port = await freePort();
  const token = opts.bearerToken;
  if (token) {
    // Orthanc's Lua hook sees the headers with lower-case names.
    writeFileSync(path.join(dir, 'bearer.lua'), `function IncomingHttpRequestFilter(method, uri, ip, username, httpHeaders)\n  return httpHeaders['authorization'] == ${JSON.stringify(`Bearer ${token}`)}\nend\n`);
  }
  const config = {
    Name: 'sab-test', StorageDirectory: path.join(dir, 'db'), IndexDirectory: path.join(dir, 'db'),
    HttpPort: port, DicomServerEnabled: false, DicomPort: await freePort(), RemoteAccessAllowed: false,
    ...(token ? { AuthenticationEnabled: false, LuaScripts: [path.join(dir, 'bearer.lua')] } : { AuthenticationEnabled: true, RegisteredUsers: { [USER]: PASSWORD } }),
    Plugins: [DICOMWEB_PLUGIN], DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: false },
    HttpThreadsCount: 8, StableAge: 1, SaveJobs: false,
  };
  writeFileSync(path.join(dir, 'orthanc.json'), JSON.stringify(config));
  const child: ChildProcess = spawn(ORTHANC_BIN, [path.join(dir, 'orthanc.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-4000)));
  const direct = `http://127.0.0.1:${port}`;
  const auth = token ? `Bearer ${token}` : `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  // The REST helper talks to Orthanc's own port (the test's uploads need no TLS).
  const rest = async (p: string, init: { method?: string; body?: Uint8Array } = {}): Promise<unknown> => {
    const res = await fetch(`${direct}${p}`, { method: init.method ?? 'GET', headers: { authorization: auth }, ...(init.body ? { body: init.body as unknown as BodyInit } : {}) });
    if (!res.ok) throw new Error(`Orthanc ${init.method ?? 'GET'} ${p}: HTTP ${res.status}`);
    const text = await res.text();
    return text ? JSON.parse(text) : undefined;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Orthanc exited with ${child.exitCode}: ${log}`);
    try {
      await rest('/system');
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill();
        throw new Error(`Orthanc did not answer on ${direct} within 30 s: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const front = opts.tls ? await tlsFront(opts.tls, port) : undefined;
  const url = front ? `https://127.0.0.1:${front.port}` : direct;
  return {
    url,
    dicomweb: `${url}/dicom-web`,
    rest,
    upload: async (file) => void (await rest('/instances', { method: 'POST', body: readFileSync(file) })),
    stop: async () => {
      await front?.close();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
