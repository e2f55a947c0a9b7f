const { loadModel } = await import('../dist/pipeline/segmenter.js');
const { readVolume } = await import('../dist/io/dispatch.js');
const v = readVolume('../shared/fixtures/mri/wrist_2.nii.gz');
const t0 = performance.now();
const m = loadModel('../shared/fixtures/golden');
const r = await m.segmentVolume(v, { slices: [37, 38], attention: true });
let s=0; for (const x of r.mask.data) s+=x;
console.log('total', (performance.now() - t0).toFixed(0), 'mask sum', s, JSON.stringify(r.timings), 'rss', (process.resourceUsage().maxRSS/1024).toFixed(0));
