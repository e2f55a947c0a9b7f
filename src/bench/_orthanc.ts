// Starts a real Orthanc for the DICOMweb tests and `npm run bench dicom` (no run(): not a bench itself).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

export interface OrthancServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** The DICOMweb root: URL/dicom-web */
  dicomweb: string;
  /** REST call with the right credentials. */
  rest(p: string, init?: { method?: string; body?: Uint8Array }): Promise<unknown>;
  upload(file: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Orthanc with the DICOMweb plugin on a free loopback port, basic auth on, DICOM port disabled, storage
 * in a temp dir removed at stop.
 */
export async function startOrthanc(): Promise<OrthancServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sab-orthanc-'));
  const port = await freePort();
  const config = {
    Name: 'sab-test', StorageDirectory: path.join(dir, 'db'), IndexDirectory: path.join(dir, 'db'),
    HttpPort: port, DicomServerEnabled: false, DicomPort: await freePort(), RemoteAccessAllowed: false,
    AuthenticationEnabled: true, RegisteredUsers: { [USER]: PASSWORD },
    Plugins: [DICOMWEB_PLUGIN], DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: false },
    HttpThreadsCount: 8, StableAge: 1, SaveJobs: false,
  };
  writeFileSync(path.join(dir, 'orthanc.json'), JSON.stringify(config));
  const child: ChildProcess = spawn(ORTHANC_BIN, [path.join(dir, 'orthanc.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const auth = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const rest = async (p: string, init: { method?: string; body?: Uint8Array } = {}): Promise<unknown> => {
    const res = await fetch(`${url}${p}`, { method: init.method ?? 'GET', headers: { authorization: auth }, ...(init.body ? { body: init.body as unknown as BodyInit } : {}) });
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
        throw new Error(`Orthanc did not answer on ${url} within 30 s: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    dicomweb: `${url}/dicom-web`,
    rest,
    upload: async (file) => void (await rest('/instances', { method: 'POST', body: readFileSync(file) })),
    stop: async () => {
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
