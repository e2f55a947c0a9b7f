import { describe, expect, it } from 'vitest';
import { adviseSlicingAxis, inPlaneSlicingAxis } from '../../src/volume/slicing-axis.js';

describe('slicing axis advice', () => {
  it('the in-plane slicing axis is the one of clearly largest spacing', () => {
    expect(inPlaneSlicingAxis([3.3, 0.8, 0.8])).toBe(0);
    expect(inPlaneSlicingAxis([0.5, 0.5, 3])).toBe(2);
    expect(inPlaneSlicingAxis([1, 1, 1])).toBeUndefined();
    expect(inPlaneSlicingAxis([1, 1.2, 1])).toBeUndefined(); // mildly anisotropic: no advice
    expect(inPlaneSlicingAxis([3, 3, 0.5])).toBeUndefined(); // two thick axes: no single acquisition plane
  });
  it('warns when the chosen axis cuts across the acquisition plane, naming the --axis that does not', () => {
    const a = adviseSlicingAxis(2, [3.3, 0.8, 0.8]);
    expect(a.axis).toBe(2);
    expect(a.warning).toBe(
      'slicing along axis 2 cuts across the acquisition plane: the largest spacing (3.3 mm) is on axis 0 (spacing 3.3 x 0.8 x 0.8 mm), ' +
        'so the model sees stretched slices; --axis 0 (or --axis auto) slices in-plane',
    );
    expect(adviseSlicingAxis(0, [3.3, 0.8, 0.8])).toEqual({ axis: 0 });
    expect(adviseSlicingAxis(1, [1, 1, 1])).toEqual({ axis: 1 });
  });
  it('auto picks the in-plane axis, else the official third axis', () => {
    expect(adviseSlicingAxis('auto', [3.3, 0.8, 0.8])).toEqual({ axis: 0 });
    expect(adviseSlicingAxis('auto', [0.8, 3.3, 0.8])).toEqual({ axis: 1 });
    expect(adviseSlicingAxis('auto', [1, 1, 1])).toEqual({ axis: 2 });
  });
});
