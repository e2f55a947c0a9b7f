import dicomParser from 'dicom-parser';
import { inflateSync } from 'fflate';

/** What we need from one DICOM image, pulled out with dicom-parser. */
export interface DicomSlice {
  name: string;
  sopInstanceUid: string;
  sopClassUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  frameOfReferenceUid: string;
  seriesDescription: string;
  seriesNumber: number | undefined;
  instanceNumber: number | undefined;
  modality: string;
  rows: number;
  columns: number;
  pixelSpacing: [number, number] | undefined; // [row spacing, column spacing]
  orientation: number[] | undefined; // ImageOrientationPatient, 6 values
  position: number[] | undefined; // ImagePositionPatient, 3 values
  sliceThickness: number | undefined;
  rescaleSlope: number;
  rescaleIntercept: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  samplesPerPixel: number;
  numberOfFrames: number;
  transferSyntax: string;
  /** Patient/study attributes copied into derived objects (DICOM-SEG). */
  patient: Record<string, string>;
  pixels: { offset: number; length: number; encapsulated: boolean } | undefined;
  /** The bytes the offsets refer to (the inflated dataset for Deflated Explicit VR). */
  bytes: Uint8Array;
  /** ImageType values (e.g. ORIGINAL, PRIMARY, M, MOSAIC). */
  imageType: string[];
  /** The parsed dataset, for what only some inputs need (functional groups, encapsulated fragments). */
  dataSet: dicomParser.DataSet;
  /** 0-based frame of a multi-frame object this slice stands for (single-frame images: undefined). */
  frameIndex?: number;
}

/** Deflated Explicit VR Little Endian: the dataset after the meta header is raw DEFLATE (PS3.5 A.5). */
function inflateDataset(bytes: Uint8Array, position: number): Uint8Array {
  const inflated = inflateSync(bytes.subarray(position));
  const full = new Uint8Array(position + inflated.length);
  full.set(bytes.subarray(0, position));
  full.set(inflated, position);
  return full;
}

const PATIENT_STUDY_TAGS: Record<string, string> = {
  PatientName: 'x00100010', PatientID: 'x00100020', PatientBirthDate: 'x00100030', PatientSex: 'x00100040',
  StudyDate: 'x00080020', StudyTime: 'x00080030', StudyID: 'x00200010', AccessionNumber: 'x00080050',
  ReferringPhysicianName: 'x00080090', StudyDescription: 'x00081030',
};

/** Parse one file; returns undefined for files that are not DICOM (so stray files in a folder are ignored). */
export function parseDicomSlice(name: string, bytes: Uint8Array): DicomSlice | undefined {
  let ds: dicomParser.DataSet;
  try {
    // dicom-parser types the inflater as returning void; it uses the returned bytes.
    ds = dicomParser.parseDicom(bytes, { inflater: inflateDataset as unknown as (a: Uint8Array, p: number) => void });
  } catch {
    return undefined;
  }
  const str = (tag: string): string => (ds.string(tag) ?? '').trim();
  const nums = (tag: string): number[] | undefined => {
    const s = ds.string(tag);
    if (s === undefined || s.trim() === '') return undefined;
    return s.split('\\').map((x) => Number(x));
  };
  const num = (tag: string): number | undefined => nums(tag)?.[0];
  const us = (tag: string): number | undefined => (ds.elements[tag] ? ds.uint16(tag) : undefined);
  const sopInstanceUid = str('x00080018');
  if (!sopInstanceUid && !ds.elements.x7fe00010) return undefined;
  const pe = ds.elements.x7fe00010;
  const patient: Record<string, string> = {};
  for (const [k, tag] of Object.entries(PATIENT_STUDY_TAGS)) {
    const v = ds.string(tag);
    if (v !== undefined) patient[k] = v.trim();
  }
  const ps = nums('x00280030');
  return {
    name,
    sopInstanceUid,
    sopClassUid: str('x00080016'),
    seriesInstanceUid: str('x0020000e'),
    studyInstanceUid: str('x0020000d'),
    frameOfReferenceUid: str('x00200052'),
    seriesDescription: str('x0008103e'),
    seriesNumber: num('x00200011'),
    instanceNumber: num('x00200013'),
    modality: str('x00080060'),
    rows: us('x00280010') ?? 0,
    columns: us('x00280011') ?? 0,
    pixelSpacing: ps && ps.length >= 2 ? [ps[0]!, ps[1]!] : undefined,
    orientation: nums('x00200037'),
    position: nums('x00200032'),
    sliceThickness: num('x00180050'),
    rescaleSlope: num('x00281053') ?? 1,
    rescaleIntercept: num('x00281052') ?? 0,
    bitsAllocated: us('x00280100') ?? 0,
    bitsStored: us('x00280101') ?? us('x00280100') ?? 0,
    pixelRepresentation: us('x00280103') ?? 0,
    samplesPerPixel: us('x00280002') ?? 1,
    numberOfFrames: num('x00280008') ?? 1,
    transferSyntax: str('x00020010') || '1.2.840.10008.1.2',
    patient,
    pixels: pe ? { offset: pe.dataOffset, length: pe.length, encapsulated: !!pe.encapsulatedPixelData } : undefined,
    bytes: ds.byteArray,
    imageType: (ds.string('x00080008') ?? '').split('\\').map((x) => x.trim().toUpperCase()).filter(Boolean),
    dataSet: ds,
  };
}
