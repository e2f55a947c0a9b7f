const { Runtime } = await import('../dist/graph/runtime.js');
for (const k of ['session', 'serialize', 'lower']) {
  const o = Runtime.prototype[k];
  Runtime.prototype[k] = function (...a) { const t = performance.now(); const r = o.apply(this, a); const done = () => console.log(k, a[1] ?? a[0]?.name ?? '', (performance.now() - t).toFixed(0)); if (r && r.then) r.then(done); else done(); return r; };
}
const { loadModel } = await import('../dist/pipeline/segmenter.js');
const { readVolume } = await import('../dist/io/dispatch.js');
const v = readVolume('../shared/fixtures/mri/wrist_2.nii.gz');
const t0 = performance.now();
const m = loadModel('../shared/fixtures/golden');
const r = await m.segmentVolume(v, { slices: [37, 38], attention: true });
console.log('total', (performance.now() - t0).toFixed(0), JSON.stringify(r.timings));
