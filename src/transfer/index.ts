// Label transfer to other sequences (paper §3.4): world-coordinate resampling, elastix registration, alignment report.
export { transferLabels, TransferError, DEFAULT_MAX_SHIFT_MM, DEFAULT_MIN_SCORE } from './transfer.js';
export type { TransferOptions, TransferReport, TransferResult, RegisterMode } from './transfer.js';
export { alignmentScores, mutualInformation, boundaryAgreement, BOUNDARY_BAND_MM, type AlignmentScores } from './alignment.js';
export { registerVolumes, registrationParameterMap, readTransformFile, writeTransformFile, volumeToItkImage } from './elastix.js';
export type { RegistrationKind, RegistrationOptions, RegistrationResult } from './elastix.js';
export { parameterObjectToWorld, stageMatrixLps, rotationDegrees, itkGeometry, TransformError } from './elastix-transform.js';
export type { ElastixParameterMap, ElastixParameterObject } from './elastix-transform.js';
export { makeTransferPhantom, rigidMatrix, type TransferPhantom, type TransferPhantomOptions } from './phantom.js';
export { formatTransferReport, reportCsvLine, REPORT_COLUMNS, type PairOutcome, type TransferPair } from './report.js';
export { readPairsCsv, transferPairs, transferPreviewPng, type PairsSummary } from './pairs.js';
