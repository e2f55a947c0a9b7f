import { mkdirSync, renameSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { flipXY } from '../../volume/affine.js';
import type { Volume } from '../../volume/types.js';
import { checkWritableTarget } from '../atomic.js';
import { VolumeIOError } from '../errors.js';
import { dicomNow, newUid } from './uid.js';
import { dcmjs } from './dcmjsLazy.js';

const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
/** Transfer syntax of everything we write: explicit VR little endian. */
export const EXPLICIT_VR_LE = '1.2.840.10008.1.2.1';

/**
 * Type 2 attributes of the MR Image IOD that a volume cannot know: present and empty, as the IOD allows, so that a
 * validator (dciodvfy) accepts the series.
 */
const MR_TYPE2_UNKNOWN = {
  PatientBirthDate: '', PatientSex: '', ReferringPhysicianName: '', AccessionNumber: '', Laterality: '',
  PatientPosition: '', PositionReferenceIndicator: '', ScanOptions: '', MRAcquisitionType: '', RepetitionTime: '',
  EchoTime: '', EchoTrainLength: '',
};

export interface DicomSeriesWriteOptions {
  seriesDescription?: string;
  patientName?: string;
  patientId?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  frameOfReferenceUid?: string;
  /** Stored pixel = (value - intercept) / slope; default 1 and 0. */
  rescaleSlope?: number;
  rescaleIntercept?: number;
}

/** LPS geometry of a volume as DICOM attributes: orientation, pixel spacing and the position of slice k. */
export function dicomGeometry(vol: Volume): { orientation: number[]; pixelSpacing: [number, number]; position: (k: number) => number[]; sliceStep: number } {
  const lps = flipXY(vol.affine);
  const col = (c: number): number[] => [lps[c]!, lps[4 + c]!, lps[8 + c]!];
  const [ci, cj, ck] = [col(0), col(1), col(2)];
  const ni = Math.hypot(...ci), nj = Math.hypot(...cj);
  return {
    orientation: [...ci.map((x) => x / ni), ...cj.map((x) => x / nj)],
    pixelSpacing: [nj, ni],
    position: (k) => [0, 1, 2].map((r) => lps[r * 4 + 3]! + k * ck[r]!),
    sliceStep: Math.hypot(...ck),
  };
}

/** Decimal String value: the most precise rendering that fits DICOM's 16-character limit. */
export function ds(x: number): string {
  for (let p = 15; p >= 1; p--) {
    const s = String(Number(x.toPrecision(p)));
    if (s.length <= 16) return s;
  }
  return '0';
}

/**
 * Write `vol` as a single-frame MR series (one file per slice, explicit VR little endian) with dcmjs, into a new
 * directory `dir`. Built in a temp directory and renamed, so a failure leaves nothing behind. Integer data only.
 */
export function writeDicomSeries(dir: string, vol: Volume, opts: DicomSeriesWriteOptions = {}): string[] {
  if (!['uint8', 'uint16', 'int16'].includes(vol.dtype) && opts.rescaleSlope === undefined) {
    throw new VolumeIOError(dir, `cannot store ${vol.dtype} voxels as MR images without rescaleSlope (uint8, uint16, int16 only)`);
  }
  if (existsSync(dir)) throw new VolumeIOError(dir, 'output directory already exists');
  checkWritableTarget(dir, vol.source?.path ? [vol.source.path] : []);
  const [nx, ny, nz] = vol.dims;
  const g = dicomGeometry(vol);
  const study = opts.studyInstanceUid ?? newUid();
  const series = opts.seriesInstanceUid ?? newUid();
  const frame = opts.frameOfReferenceUid ?? newUid();
  const slope = opts.rescaleSlope ?? 1, inter = opts.rescaleIntercept ?? 0;
  const signed = vol.dtype === 'int16' || (opts.rescaleSlope !== undefined && vol.data.some((v) => (v - inter) / slope < 0));
  const bits = vol.dtype === 'uint8' ? 8 : 16;
  const now = dicomNow();
  const tmp = join(dirname(resolve(dir)), `.${basename(dir)}.${process.pid}.tmp`);
  const files: string[] = [];
  try {
    mkdirSync(tmp);
    for (let k = 0; k < nz; k++) {
      const sop = newUid();
      const px = bits === 8 ? new Uint8Array(nx * ny) : signed ? new Int16Array(nx * ny) : new Uint16Array(nx * ny);
      const off = k * nx * ny;
      for (let i = 0; i < nx * ny; i++) px[i] = Math.round((vol.data[off + i]! - inter) / slope);
      const dataset: Record<string, unknown> = {
        SOPClassUID: MR_IMAGE_STORAGE, SOPInstanceUID: sop, StudyInstanceUID: study, SeriesInstanceUID: series,
        FrameOfReferenceUID: frame, Modality: 'MR', PatientName: opts.patientName ?? 'Anonymous^', PatientID: opts.patientId ?? 'SAB0001',
        StudyDate: now.date, StudyTime: now.time, SeriesDescription: opts.seriesDescription ?? 'segment-any-bone export',
        SeriesNumber: '1', InstanceNumber: String(k + 1), ImageType: ['DERIVED', 'SECONDARY', 'OTHER'],
        ...MR_TYPE2_UNKNOWN, StudyID: '1', Manufacturer: 'segment-any-bone',
        // The acquisition is not known from a volume: 'RM' (research mode) and 'NONE' are the honest Type 1 values.
        ScanningSequence: 'RM', SequenceVariant: 'NONE',
        ImagePositionPatient: g.position(k).map(ds), ImageOrientationPatient: g.orientation.map(ds),
        PixelSpacing: g.pixelSpacing.map(ds), SliceThickness: ds(g.sliceStep), SpacingBetweenSlices: ds(g.sliceStep),
        Rows: ny, Columns: nx, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2',
        BitsAllocated: bits, BitsStored: bits, HighBit: bits - 1, PixelRepresentation: signed ? 1 : 0,
        // The MR Image IOD has no rescale; it is written only when the stored values need one.
        ...(slope !== 1 || inter !== 0 ? { RescaleSlope: ds(slope), RescaleIntercept: ds(inter), RescaleType: 'US' } : {}),
        PixelData: [px.buffer],
        _vrMap: { PixelData: bits === 8 ? 'OB' : 'OW' },
      };
      const meta = {
        FileMetaInformationVersion: new Uint8Array([0, 1]).buffer, MediaStorageSOPClassUID: MR_IMAGE_STORAGE,
        MediaStorageSOPInstanceUID: sop, TransferSyntaxUID: EXPLICIT_VR_LE, ImplementationClassUID: '2.25.1234567890123456789',
        ImplementationVersionName: 'SAB_0.1',
      };
      const { data } = dcmjs();
      const dict = new data.DicomDict(data.DicomMetaDictionary.denaturalizeDataset(meta));
      dict.dict = data.DicomMetaDictionary.denaturalizeDataset(dataset);
      const name = `IM${String(k + 1).padStart(5, '0')}.dcm`;
      writeFileSync(join(tmp, name), new Uint8Array(dict.write()));
      files.push(join(dir, name));
    }
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (e instanceof VolumeIOError) throw e;
    throw new VolumeIOError(dir, `writing DICOM series failed: ${(e as Error).message}`);
  }
  return files;
}
