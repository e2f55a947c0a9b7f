// File-level segmentation shared by `sab segment` and the queue worker: input expansion, output naming, file -> mask file.
export * from './inputs.js';
export * from './segmentFile.js';
