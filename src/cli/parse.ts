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
