// Public library API of segment-any-bone. Each module exports plain typed data and functions.
export {};
export * from './checkpoint/index.js';
export * from './volume/index.js';
export * from './io/index.js';
export * from './pipeline/index.js';
export * from './metrics/index.js';
