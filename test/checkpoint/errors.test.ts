import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError, loadCheckpoint, readCheckpoint, readTorchCheckpoint } from '../../src/checkpoint/index.js';
import { bytesOf, PickleWriter, stateDictPickle, torchZip, type ViewSpec } from './pickle-builder.js';

function errorOf(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    return err as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

const storage = bytesOf(Float32Array.from({ length: 24 }, (_, i) => i));
const view = (over: Partial<ViewSpec>): ViewSpec => ({
  key: 'w',
  storageKey: '0',
  storageType: 'FloatStorage',
  storageNumel: 24,
  offset: 0,
  shape: [4, 6],
  stride: [6, 1],
  ...over,
});

describe('restricted unpickler', () => {
  it('rejects GLOBAL os.system + REDUCE without executing anything', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sab-pickle-'));
    const marker = join(dir, 'pwned');
    try {
      const pkl = new PickleWriter().proto().global('os', 'system').str(`touch ${marker}`).op(0x85).reduce().stop().bytes();
      const err = errorOf(() => readTorchCheckpoint(torchZip(pkl, {}), 'evil.pth'));
      expect(err.message).toContain('evil.pth');
      expect(err.message).toContain('os.system');
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects non-whitelisted globals reached via STACK_GLOBAL too', () => {
    const pkl = new PickleWriter().proto().str('builtins').str('eval').op(0x93).str('1+1').op(0x85).reduce().stop().bytes();
    expect(errorOf(() => readTorchCheckpoint(torchZip(pkl, {}), 'evil2.pth')).message).toMatch(/evil2\.pth.*builtins\.eval/);
  });

  it('rejects an unknown opcode, naming it', () => {
    const pkl = new PickleWriter().proto().op(0xff).stop().bytes();
    expect(errorOf(() => readTorchCheckpoint(torchZip(pkl, {}), 'odd.pth')).message).toMatch(/odd\.pth.*unsupported opcode 0xff/);
  });
});

describe('malformed checkpoints give one clear error', () => {
  const good = torchZip(stateDictPickle([view({})]), { '0': storage });

  it('sanity: the well-formed file loads', () => {
    expect(readTorchCheckpoint(good, 'good.pth').get('w')!.shape).toEqual([4, 6]);
  });

  it('truncated zip', () => {
    const msg = errorOf(() => readCheckpoint(good.subarray(0, good.length - 40), 'cut.pth')).message;
    expect(msg).toMatch(/^cut\.pth: truncated or damaged zip archive/);
  });

  it('wrong magic', () => {
    expect(errorOf(() => readCheckpoint(new TextEncoder().encode('hello world, not a model'), 'x.bin')).message).toMatch(/x\.bin: .*wrong magic/);
    expect(errorOf(() => readTorchCheckpoint(new Uint8Array(64), 'zeros.pth')).message).toMatch(/zeros\.pth: .*wrong magic/);
  });

  it('missing data.pkl', () => {
    expect(errorOf(() => readTorchCheckpoint(torchZip(undefined, { '0': storage }), 'nopkl.pth')).message).toMatch(/nopkl\.pth: .*no data\.pkl/);
  });

  it('storage key missing from the archive', () => {
    const zip = torchZip(stateDictPickle([view({ storageKey: '7' })]), { '0': storage });
    expect(errorOf(() => readTorchCheckpoint(zip, 'nokey.pth')).message).toMatch(/nokey\.pth: storage '7' is missing \(no archive\/data\/7 entry/);
  });

  it('storage offset out of range', () => {
    const zip = torchZip(stateDictPickle([view({ offset: 30, shape: [2], stride: [1] })]), { '0': storage });
    expect(errorOf(() => readTorchCheckpoint(zip, 'off.pth')).message).toMatch(/off\.pth: tensor 'w': view out of range of storage '0'.*reaches element 31.*holds 24/);
  });

  it('non-contiguous view past the end of its storage', () => {
    const zip = torchZip(stateDictPickle([view({ offset: 2, shape: [4, 6], stride: [1, 4] })]), { '0': storage });
    expect(errorOf(() => readTorchCheckpoint(zip, 'past.pth')).message).toMatch(
      /past\.pth: tensor 'w': view out of range of storage '0' \(offset 2, size \(4, 6\), stride \(1, 4\) reaches element 25/,
    );
  });

  it('storage entry shorter than its declared element count', () => {
    const zip = torchZip(stateDictPickle([view({ storageNumel: 30 })]), { '0': storage });
    expect(errorOf(() => readTorchCheckpoint(zip, 'short.pth')).message).toMatch(/short\.pth: storage '0' declares 30 float32 elements .* holds only 96 bytes/);
  });

  it('unreadable path', () => {
    expect(errorOf(() => loadCheckpoint('/nonexistent/model.pth')).message).toMatch(/\/nonexistent\/model\.pth: cannot read file \(ENOENT\)/);
  });

  it('truncated safetensors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sab-st-'));
    try {
      const header = new TextEncoder().encode('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}');
      const file = new Uint8Array(8 + header.length + 8);
      new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
      file.set(header, 8);
      writeFileSync(join(dir, 'cut.safetensors'), file);
      expect(errorOf(() => loadCheckpoint(join(dir, 'cut.safetensors'))).message).toMatch(/cut\.safetensors: safetensors: tensor 'w' data \[0, 16\) lies past the end/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
