/** Commander helper: repeatable option values collected into an array. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** "a,b,c" -> numbers, with an error naming the option when the count or a value is wrong. */
export function parseNumbers(text: string, count: number | [number, number], what: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const [lo, hi] = typeof count === 'number' ? [count, count] : count;
  const nums = parts.map(Number);
  if (parts.length < lo || parts.length > hi || nums.some((n, i) => parts[i] === '' || !Number.isFinite(n))) {
    throw new Error(`${what}: expected ${lo === hi ? lo : `${lo} or ${hi}`} comma-separated numbers, got '${text}'`);
  }
  return nums;
}

/** Commander parser for an integer option with a lower (and optional upper) bound. */
export function integerOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (raw: string) => number {
  return (raw: string): number => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(v) || v < min || v > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
      throw new Error(`${name} must be an integer ${range}, got '${raw}'`);
    }
    return v;
  };
}

/** --resample: how a mask on another grid is brought onto the reference grid. */
export function parseResample(raw: string): 'nearest' | 'none' {
  if (raw !== 'nearest' && raw !== 'none') throw new Error(`--resample must be 'nearest' (or 'none'), got '${raw}'`);
  return raw;
}

/** The mask clean-up options `sab segment` and `sab queue add` share, in one place: `.option(...KEEP_LARGEST)`. */
export const KEEP_LARGEST = ['--keep-largest [k]', 'keep only the k largest 3-D components (default 1)', integerOption('--keep-largest', 1)] as const;
export const MIN_SIZE = ['--min-size <n>', 'remove 3-D components smaller than n voxels', integerOption('--min-size', 1)] as const;
export const FILL_HOLES = ['--fill-holes', 'fill enclosed holes slice by slice'] as const;
/** Which part of the input to segment, shared the same way. */
export const SLICES = ['--slices <a:b>', 'segment only slices a..b-1 along the axis'] as const;
export const SERIES = ['--series <uid>', 'DICOM: the SeriesInstanceUID to segment when a folder holds several'] as const;
export const VOLUME_INDEX = ['--volume-index <n>', '4-D input: which volume to segment (0-based)', integerOption('--volume-index', 0)] as const;
