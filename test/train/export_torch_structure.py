"""Check a .pth the way torch.load reads it, without torch (used by export.test.ts when python3 exists).

torch.load on a zip checkpoint: the first entry's folder is the archive name; `<root>/version` (or
`.data/version`) must parse as an int; `<root>/data.pkl` is unpickled with persistent_load resolving
('storage', StorageType, key, location, numel) to `<root>/data/<key>`, and globals resolved by
find_class (torch._utils._rebuild_tensor_v2, torch.<T>Storage, collections.OrderedDict). Here the
torch globals are stand-ins that rebuild numpy arrays, so every step of that path is exercised.
Prints a JSON summary: names, shapes, dtypes, sha256 of each tensor, record layout, opcodes.
"""
import collections, hashlib, json, pickle, pickletools, struct, sys, zipfile

import numpy as np

DTYPES = {'FloatStorage': '<f4', 'LongStorage': '<i8', 'DoubleStorage': '<f8', 'HalfStorage': '<f2',
          'IntStorage': '<i4', 'ShortStorage': '<i2', 'CharStorage': 'i1', 'ByteStorage': 'u1', 'BoolStorage': '?'}

path = sys.argv[1]
raw = open(path, 'rb').read()
z = zipfile.ZipFile(path)
assert z.testzip() is None, 'CRC mismatch'
infos = z.infolist()
root = infos[0].filename.split('/')[0]
names = [i.filename for i in infos]
version = int(z.read(f'{root}/version').decode())
byteorder = z.read(f'{root}/byteorder').decode() if f'{root}/byteorder' in names else None

layout = []
for i in infos:
    o = i.header_offset
    sig, need, flags, method, t, d, crc, cs, us, nl, el = struct.unpack('<IHHHHHIIIHH', raw[o:o + 30])
    extra = raw[o + 30 + nl:o + 30 + nl + el]
    start = o + 30 + nl + el
    layout.append({'name': i.filename, 'need': need, 'flags': flags, 'method': method, 'time': t, 'date': d,
                   'extra_id': extra[:2].decode('latin1'), 'pad_ok': extra[4:] == b'Z' * (el - 4),
                   'aligned': start % 64 == 0, 'descriptor': raw[start + i.file_size:start + i.file_size + 4].hex()})

class Storage:
    def __init__(self, kind):
        self.kind = kind

class Tensor:
    pass

def rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks):
    arr, kind = storage
    itemsize = arr.itemsize
    t = np.lib.stride_tricks.as_strided(arr[offset:], shape=size, strides=[s * itemsize for s in stride]) if size else arr[offset:offset + 1].reshape(())
    assert requires_grad is False and isinstance(hooks, collections.OrderedDict) and len(hooks) == 0
    return np.array(t, order="C", copy=True)

class Loader(pickle.Unpickler):
    def find_class(self, module, name):
        if module == 'collections' and name == 'OrderedDict':
            return collections.OrderedDict
        if module == 'torch._utils' and name == '_rebuild_tensor_v2':
            return rebuild_tensor_v2
        if module == 'torch' and name in DTYPES:
            return Storage(name)
        raise pickle.UnpicklingError(f'unexpected global {module}.{name}')

    def persistent_load(self, pid):
        kind, stype, key, location, numel = pid
        assert kind == 'storage' and location == 'cpu', pid
        data = z.read(f'{root}/data/{key}')
        arr = np.frombuffer(data, dtype=DTYPES[stype.kind])
        assert arr.size == numel, (key, arr.size, numel)
        return (arr, stype.kind)

pkl = z.read(f'{root}/data.pkl')
sd = Loader(__import__('io').BytesIO(pkl)).load()
assert isinstance(sd, collections.OrderedDict)
ops = [op.name for op, arg, pos in pickletools.genops(pkl)]
protos = [arg for op, arg, pos in pickletools.genops(pkl) if op.name == 'PROTO']
print(json.dumps({
    'root': root, 'names': names, 'version': version, 'byteorder': byteorder, 'proto': protos,
    'layout': layout, 'opcodes': ops,
    'tensors': [[k, str(v.dtype), list(v.shape), hashlib.sha256(v.tobytes()).hexdigest()] for k, v in sd.items()],
}))
