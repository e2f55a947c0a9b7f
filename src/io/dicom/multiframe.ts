import type dicomParser from 'dicom-parser';
import type { DicomSlice } from './parse.js';

/** Why a multi-frame or mosaic object cannot be read as slices (thrown by expandFrames; the caller names the file). */
export class MultiFrameError extends Error {
  override name = 'MultiFrameError';
}

const SHARED_GROUPS = 'x52009229';
const PER_FRAME_GROUPS = 'x52009230';

const item = (ds: dicomParser.DataSet | undefined, seq: string): dicomParser.DataSet | undefined => ds?.elements[seq]?.items?.[0]?.dataSet;
const numbers = (ds: dicomParser.DataSet | undefined, tag: string): number[] | undefined => {
  const s = ds?.string(tag);
  return s === undefined || s.trim() === '' ? undefined : s.split('\\').map(Number);
};

/** A functional group macro of one frame: the per-frame item when present, else the shared one (PS3.3 C.7.6.16). */
function group(shared: dicomParser.DataSet | undefined, perFrame: dicomParser.DataSet | undefined, seq: string): dicomParser.DataSet | undefined {
  return item(perFrame, seq) ?? item(shared, seq);
}

/** Siemens mosaic: many slices tiled into one image. We refuse it rather than read a wrong grid. */
export function isMosaic(s: DicomSlice): boolean {
  return s.imageType.includes('MOSAIC') || s.dataSet.elements['x0019100a'] !== undefined;
}

/**
 * The slices an image stands for: itself when single-frame; one slice per frame for an Enhanced (multi-frame)
 * object, each with the position, orientation, pixel spacing and rescale of its functional groups, so the series
 * assembly applies the same geometry rules as to a classic series.
 */
export function expandFrames(s: DicomSlice): DicomSlice[] {
  if (isMosaic(s)) {
    throw new MultiFrameError('is a Siemens mosaic (many slices tiled into one image); convert it to a regular series first (e.g. dcm2niix to NIfTI)');
  }
  if (s.numberOfFrames <= 1) return [s];
  if (!Number.isInteger(s.numberOfFrames)) throw new MultiFrameError(`has NumberOfFrames ${s.numberOfFrames}`);
  const ds = s.dataSet;
  const shared = item(ds, SHARED_GROUPS);
  const perFrame = ds.elements[PER_FRAME_GROUPS]?.items ?? [];
  if (perFrame.length !== s.numberOfFrames) {
    throw new MultiFrameError(
      `is a multi-frame image with ${s.numberOfFrames} frames but ${perFrame.length} per-frame functional group items: ` +
        'frame positions are unknown (only Enhanced multi-frame objects with per-frame plane positions can be read)',
    );
  }
  return perFrame.map((it, f) => {
    const pf = it.dataSet;
    const measures = group(shared, pf, 'x00289110');
    const ps = numbers(measures, 'x00280030');
    const transform = group(shared, pf, 'x00289145');
    return {
      ...s,
      name: `${s.name} frame ${f + 1}`,
      frameIndex: f,
      position: numbers(group(shared, pf, 'x00209113'), 'x00200032'),
      orientation: numbers(group(shared, pf, 'x00209116'), 'x00200037'),
      pixelSpacing: ps && ps.length >= 2 ? [ps[0]!, ps[1]!] : s.pixelSpacing,
      sliceThickness: numbers(measures, 'x00180050')?.[0] ?? s.sliceThickness,
      rescaleSlope: numbers(transform, 'x00281053')?.[0] ?? s.rescaleSlope,
      rescaleIntercept: numbers(transform, 'x00281052')?.[0] ?? s.rescaleIntercept,
    };
  });
}
