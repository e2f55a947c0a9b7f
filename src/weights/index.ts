export * from './locate.js';
export { classifyWeights, installWeights, verifyWeights, type InstallReport } from './install.js';
export { downloadWeights, weightsBaseUrl, type DownloadOptions, type DownloadProgress } from './download.js';
