import { affinesClose } from '../../volume/affine.js';
import type { Volume } from '../../volume/types.js';
import { writeFileAtomic } from '../atomic.js';
import { VolumeIOError } from '../errors.js';
import type { DicomSourceHeader } from './series.js';
import { dicomNow, newUid } from './uid.js';
import { EXPLICIT_VR_LE, dicomGeometry, ds } from './write-series.js';
import { dcmjs } from './dcmjsLazy.js';

const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';

export interface DicomSegOptions {
  /** The DICOM volume the mask was computed from (default: the mask's own source, as createMaskLike keeps it). */
  reference?: Volume;
  segmentLabel?: string;
  seriesDescription?: string;
  /** Write frames for every slice, not only those containing the segment (default false, as dcmjs and highdicom do). */
  includeEmptyFrames?: boolean;
  inputs?: readonly string[];
  /** What made the mask, for the SegmentSequence's algorithm identification (viewers show it; audits need it). */
  algorithm?: SegAlgorithm;
}

export interface SegAlgorithm {
  name: string;
  version: string;
  /** Free text, e.g. the sha256 of the weights and the options used. */
  parameters?: string;
}

// Patient and General Study attributes of Type 2 (present, possibly empty; dciodvfy flags them missing): the
// source's values when it has them, else empty.
const TYPE2_PATIENT_STUDY: Record<string, string> = {
  PatientName: '', PatientID: '', PatientBirthDate: '', PatientSex: '',
  StudyDate: '', StudyTime: '', StudyID: '', AccessionNumber: '', ReferringPhysicianName: '',
};

const code = (value: string, scheme: string, meaning: string): Record<string, string> => ({ CodeValue: value, CodingSchemeDesignator: scheme, CodeMeaning: meaning });

/**
 * Build a binary DICOM Segmentation (one segment, "Bone", SNOMED CT codes) on the grid of its source series:
 * one frame per slice holding mask voxels, each pointing at its source image (DerivationImageSequence) with its
 * ImagePositionPatient, the series referenced in ReferencedSeriesSequence, dimensions organised by segment number
 * then position, as 3D Slicer (dcmqi) and OHIF expect.
 */
export function buildDicomSeg(mask: Volume, opts: DicomSegOptions = {}): Uint8Array {
  const ref = opts.reference ?? mask;
  if (ref.source?.format !== 'dicom') throw new Error('a DICOM-SEG needs the source DICOM series as reference (read the input with readVolume from its folder/zip)');
  const src = ref.source.header as DicomSourceHeader;
  if (mask.dims.some((d, i) => d !== ref.dims[i]) || !affinesClose(mask.affine, ref.affine, 1e-4)) {
    throw new Error(`mask grid [${mask.dims.join(', ')}] does not match the referenced DICOM series grid [${ref.dims.join(', ')}]`);
  }
  const [cols, rows, nz] = mask.dims;
  const per = rows * cols;
  const frames: number[] = [];
  for (let k = 0; k < nz; k++) {
    let any = false;
    for (let i = k * per; i < (k + 1) * per; i++) if (mask.data[i]) { any = true; break; }
    if (any || opts.includeEmptyFrames) frames.push(k);
  }
  if (frames.length === 0) frames.push(0); // a SEG must have at least one frame
  const g = dicomGeometry(ref);
  const now = dicomNow();
  const sop = newUid();
  const sopClassOf = (k: number): string => src.instances[k]!.sopClassUid;
  const algorithm = opts.algorithm ?? { name: 'SegmentAnyBone', version: '0.1.0' };
  // An Enhanced (multi-frame) source is one instance with many frames: list each instance once.
  const referenced = new Map(src.instances.map((r) => [r.sopInstanceUid, r.sopClassUid]));

  // Bit-pack frames back to back, LSB first (PS3.5 8.1.1); frames are not padded to byte boundaries.
  const packed = new Uint8Array(Math.ceil((frames.length * per) / 8));
  let bit = 0;
  for (const k of frames) {
    const off = k * per;
    for (let i = 0; i < per; i++, bit++) if (mask.data[off + i]) packed[bit >> 3]! |= 1 << (bit & 7);
  }

  const dimOrg = newUid();
  const dataset: Record<string, unknown> = {
    SOPClassUID: SEGMENTATION_STORAGE, SOPInstanceUID: sop, Modality: 'SEG',
    ...TYPE2_PATIENT_STUDY, ...src.patient,
    StudyInstanceUID: src.studyInstanceUid, SeriesInstanceUID: newUid(), SeriesNumber: '300', InstanceNumber: '1',
    SeriesDescription: opts.seriesDescription ?? 'SegmentAnyBone segmentation',
    FrameOfReferenceUID: src.frameOfReferenceUid, PositionReferenceIndicator: '',
    Manufacturer: 'segment-any-bone', ManufacturerModelName: algorithm.name, DeviceSerialNumber: '1', SoftwareVersions: algorithm.version,
    ContentDate: now.date, ContentTime: now.time, SeriesDate: now.date, SeriesTime: now.time,
    ContentLabel: 'SEGMENTATION', ContentDescription: 'Bone segmentation', ContentCreatorName: 'SegmentAnyBone^', // PN: family name only (a PN without '^' is the retired form)
    ImageType: ['DERIVED', 'PRIMARY'], InstanceCreationDate: now.date, InstanceCreationTime: now.time,
    SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2', Rows: rows, Columns: cols,
    BitsAllocated: 1, BitsStored: 1, HighBit: 0, PixelRepresentation: 0, LossyImageCompression: '00',
    SegmentationType: 'BINARY', SegmentsOverlap: 'NO', NumberOfFrames: String(frames.length),
    ReferencedSeriesSequence: [{
      SeriesInstanceUID: src.series.seriesInstanceUid,
      ReferencedInstanceSequence: [...referenced].map(([uid, cls]) => ({ ReferencedSOPClassUID: cls, ReferencedSOPInstanceUID: uid })),
    }],
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimOrg }],
    DimensionIndexSequence: [
      { DimensionOrganizationUID: dimOrg, DimensionIndexPointer: 0x0062000b, FunctionalGroupPointer: 0x0062000a, DimensionDescriptionLabel: 'ReferencedSegmentNumber' },
      { DimensionOrganizationUID: dimOrg, DimensionIndexPointer: 0x00200032, FunctionalGroupPointer: 0x00209113, DimensionDescriptionLabel: 'ImagePositionPatient' },
    ],
    SegmentSequence: [{
      SegmentNumber: 1,
      SegmentLabel: opts.segmentLabel ?? 'Bone',
      SegmentAlgorithmType: 'AUTOMATIC',
      SegmentAlgorithmName: algorithm.name,
      SegmentationAlgorithmIdentificationSequence: [{
        AlgorithmFamilyCodeSequence: [code('123110', 'DCM', 'Artificial Intelligence')],
        AlgorithmName: algorithm.name, AlgorithmVersion: algorithm.version,
        ...(algorithm.parameters ? { AlgorithmParameters: algorithm.parameters } : {}),
      }],
      SegmentedPropertyCategoryCodeSequence: [code('91723000', 'SCT', 'Anatomical Structure')],
      SegmentedPropertyTypeCodeSequence: [code('272673000', 'SCT', 'Bone')],
      RecommendedDisplayCIELabValue: [58596, 35006, 41405],
    }],
    SharedFunctionalGroupsSequence: [{
      PlaneOrientationSequence: [{ ImageOrientationPatient: g.orientation.map(ds) }],
      PixelMeasuresSequence: [{ PixelSpacing: g.pixelSpacing.map(ds), SliceThickness: ds(src.sliceThickness ?? g.sliceStep), SpacingBetweenSlices: ds(g.sliceStep) }],
    }],
    PerFrameFunctionalGroupsSequence: frames.map((k) => ({
      DerivationImageSequence: [{
        SourceImageSequence: [{
          ReferencedSOPClassUID: sopClassOf(k), ReferencedSOPInstanceUID: src.instances[k]!.sopInstanceUid,
          ...(src.instances[k]!.frameNumber !== undefined ? { ReferencedFrameNumber: src.instances[k]!.frameNumber } : {}),
          PurposeOfReferenceCodeSequence: [code('121322', 'DCM', 'Source image for image processing operation')],
        }],
        DerivationCodeSequence: [code('113076', 'DCM', 'Segmentation')],
      }],
      FrameContentSequence: [{ DimensionIndexValues: [1, k + 1] }],
      PlanePositionSequence: [{ ImagePositionPatient: g.position(k).map(ds) }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: 1 }],
    })),
    PixelData: [packed.buffer],
    _vrMap: { PixelData: 'OB' },
  };
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer, MediaStorageSOPClassUID: SEGMENTATION_STORAGE,
    MediaStorageSOPInstanceUID: sop, TransferSyntaxUID: EXPLICIT_VR_LE, ImplementationClassUID: '2.25.1234567890123456789',
    ImplementationVersionName: 'SAB_0.1',
  };
  const { data } = dcmjs();
  const dict = new data.DicomDict(data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = data.DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}

/** Write a DICOM-SEG file (atomically) for a mask on a DICOM series grid. */
export function writeDicomSeg(path: string, mask: Volume, opts: DicomSegOptions = {}): void {
  let bytes: Uint8Array;
  try {
    bytes = buildDicomSeg(mask, opts);
  } catch (e) {
    throw new VolumeIOError(path, (e as Error).message);
  }
  const srcPath = (opts.reference ?? mask).source?.path;
  writeFileAtomic(path, bytes, opts.inputs ?? (srcPath ? [srcPath] : []));
}
