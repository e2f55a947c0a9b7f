export { VolumeIOError } from './errors.js';
export type { ReadOptions } from './options.js';
export { readVolume, writeVolume, formatOfPath, type VolumeFormat, type WriteOptions } from './dispatch.js';
export { readNifti, decodeNifti, type NiftiSourceHeader } from './nifti/read.js';
export { writeNifti, encodeNifti, type NiftiWriteOptions } from './nifti/write.js';
export { niftiBestAffine } from './nifti/geometry.js';
export type { NiftiHeader } from './nifti/header.js';
export { readNrrd, decodeNrrd, type NrrdSourceHeader } from './nrrd/read.js';
export { writeNrrd, type NrrdWriteOptions } from './nrrd/write.js';
export type { NrrdHeader } from './nrrd/header.js';
export {
  readDicomSeries, listDicomSeries, type DicomSeriesInfo, type DicomSourceHeader, type DicomInstanceRef,
} from './dicom/series.js';
export { writeDicomSeries, type DicomSeriesWriteOptions } from './dicom/write-series.js';
export { writeDicomSeg, buildDicomSeg, type DicomSegOptions } from './dicom/seg.js';
export { openInput, readOpenedInput, readInput, listOpenedSeries, isDicomInput, type OpenedInput, type OpenInputOptions } from './input.js';
export * from './dicomweb/index.js';
export { SUPPORTED_TRANSFER_SYNTAXES, describeTransferSyntax, type TransferSyntax } from './dicom/transfer-syntax.js';
export type { SegAlgorithm } from './dicom/seg.js';
