// Public library API of segment-any-bone (Node). Each module exports plain typed data and functions.
export * from './checkpoint/index.js';
export * from './volume/index.js';
export * from './io/index.js';
export * from './graph/index.js';
export * from './model/index.js';
export * from './pipeline/index.js';
export * from './metrics/index.js';
export * from './weights/index.js';
export * from './segment/index.js';
export * from './queue/index.js';
export * from './transfer/index.js';
export * from './train/loop/index.js';
