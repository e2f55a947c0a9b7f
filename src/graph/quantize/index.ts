export * from './dynamic.js';
export * from './static.js';
export * from './calibrate.js';
