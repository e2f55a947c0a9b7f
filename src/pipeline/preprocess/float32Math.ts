/**
 * Float32 elementary functions that reproduce PyTorch's CPU results bit for bit. torch's vectorised float32
 * kernels (AVX2/AVX-512) evaluate exp and pow with SLEEF's 1-ulp routines (Sleef_expf8_u10, Sleef_powf8_u10,
 * built with FMA), which are not always correctly rounded, so Math.exp / Math.pow rounded to float32 can differ
 * by one ulp. This module re-evaluates the same float32 operation sequence (SLEEF 3.5 algorithms: Cody-Waite
 * reduction + polynomial for exp; double-float log/exp for pow) with exact FMA emulation.
 */

const f = Math.fround;

const scratch = new Float64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);
const f32Scratch = new Float32Array(1);
const f32Bits = new Int32Array(f32Scratch.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = LITTLE_ENDIAN ? 1 : 0;

/**
 * Correctly rounded float32 fused multiply-add a*b + c for float32 inputs. The product is exact in double;
 * the sum is rounded to odd in double (sticky last bit) so that the final rounding to float32 is exact.
 */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  if (err === 0) return f(s);
  scratch[0] = s;
  if ((scratchWords[LO]! & 1) === 0) {
    // Step one double ulp toward the exact value, giving an odd (sticky) significand.
    const away = err > 0 === s > 0;
    if (away) {
      scratchWords[LO] = (scratchWords[LO]! + 1) >>> 0;
      if (scratchWords[LO] === 0) scratchWords[HI] = scratchWords[HI]! + 1;
    } else {
      if (scratchWords[LO] === 0) scratchWords[HI] = scratchWords[HI]! - 1;
      scratchWords[LO] = (scratchWords[LO]! - 1) >>> 0;
    }
  }
  return f(scratch[0]!);
}

/** Round to nearest integer, ties to even (cvtps2dq in the default rounding mode). */
function rintEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function bitsOf(x: number): number {
  f32Scratch[0] = x;
  return f32Bits[0]!;
}

function fromBits(bits: number): number {
  f32Bits[0] = bits | 0;
  return f32Scratch[0]!;
}

/** Unbiased exponent field of a positive normal float32. */
function ilogb2k(d: number): number {
  return ((bitsOf(d) >>> 23) & 0xff) - 0x7f;
}

/** d * 2^q by adding q to the exponent field (no range checks, as SLEEF's vldexp3). */
function ldexp3(d: number, q: number): number {
  return fromBits(bitsOf(d) + (q << 23));
}

function pow2i(q: number): number {
  return fromBits((q + 0x7f) << 23);
}

/** d * 2^e as two float32 scalings (SLEEF vldexp2). */
function ldexp2(d: number, e: number): number {
  return f(f(d * pow2i(e >> 1)) * pow2i(e - (e >> 1)));
}

/** d * 2^q with SLEEF's overflow-safe splitting (vldexp). */
function ldexpSafe(x: number, q: number): number {
  let m = q >> 31;
  m = (((m + q) >> 6) - m) << 4;
  q = q - (m << 2);
  m += 0x7f;
  m = m > 0 ? m : 0;
  m = m > 0xff ? 0xff : m;
  let u = fromBits(m << 23);
  x = f(f(f(f(x * u) * u) * u) * u);
  u = fromBits((q + 0x7f) << 23);
  return f(x * u);
}

const R_LN2 = f(1.442695040888963407359924681001892137426645954152985934135449406931);
const L2U = f(0.693145751953125);
const L2L = f(1.428606765330187045e-6);

/** torch's float32 exp on CPU (SLEEF expf u10 with FMA), bit-exact. */
export function expf32(d: number): number {
  if (Number.isNaN(d)) return NaN;
  const q = rintEven(f(d * R_LN2));
  let s = fma32(q, -L2U, d);
  s = fma32(q, -L2L, s);
  let u = f(0.000198527617612853646278381);
  u = fma32(u, s, f(0.00139304355252534151077271));
  u = fma32(u, s, f(0.00833336077630519866943359));
  u = fma32(u, s, f(0.0416664853692054748535156));
  u = fma32(u, s, f(0.166666671633720397949219));
  u = fma32(u, s, 0.5);
  u = f(1 + fma32(f(s * s), u, s));
  u = ldexp2(u, q);
  if (d < -104) return 0;
  if (d > 100) return Infinity;
  return u;
}

// Double-float (x + y, |y| << |x|) helpers, float32 throughout, in SLEEF's FMA formulation.
type F2 = [number, number];

function add2FF(x: number, y: number): F2 {
  const s = f(x + y);
  const v = f(s - x);
  return [s, f(f(x - f(s - v)) + f(y - v))];
}

function add2F2F(x: F2, y: number): F2 {
  const s = f(x[0] + y);
  const v = f(s - x[0]);
  const t = f(f(x[0] - f(s - v)) + f(y - v));
  return [s, f(t + x[1])];
}

function add2F2F2(x: F2, y: F2): F2 {
  const s = f(x[0] + y[0]);
  const v = f(s - x[0]);
  const t = f(f(x[0] - f(s - v)) + f(y[0] - v));
  return [s, f(t + f(x[1] + y[1]))];
}

function addF2F2(x: F2, y: F2): F2 {
  const s = f(x[0] + y[0]);
  return [s, f(f(f(f(x[0] - s) + y[0]) + x[1]) + y[1])];
}

function addFF2(x: number, y: F2): F2 {
  const s = f(x + y[0]);
  return [s, f(f(f(x - s) + y[0]) + y[1])];
}

function normalizeF2(t: F2): F2 {
  const s = f(t[0] + t[1]);
  return [s, f(f(t[0] - s) + t[1])];
}

function scaleF2(d: F2, s: number): F2 {
  return [f(d[0] * s), f(d[1] * s)];
}

function divF2(n: F2, d: F2): F2 {
  const t = f(1 / d[0]);
  const s = f(n[0] * t);
  const u = fma32(t, n[0], -s);
  const v = fma32(-d[1], t, fma32(-d[0], t, 1));
  return [s, fma32(s, v, fma32(n[1], t, u))];
}

function squF2(x: F2): F2 {
  const s = f(x[0] * x[0]);
  return [s, fma32(f(x[0] + x[0]), x[1], fma32(x[0], x[0], -s))];
}

function mulF2F2(x: F2, y: F2): F2 {
  const s = f(x[0] * y[0]);
  return [s, fma32(x[0], y[1], fma32(x[1], y[0], fma32(x[0], y[0], -s)))];
}

function mulF2F(x: F2, y: number): F2 {
  const s = f(x[0] * y);
  return [s, fma32(x[1], y, fma32(x[0], y, -s))];
}

const FLT_MIN = 1.1754943508222875e-38;
const LN2_HI_LO: F2 = [f(0.69314718246459960938), f(-1.904654323148236017e-9)];
const LOG_C: F2 = [f(0.66666662693023681640625), f(3.69183861259614332084311e-9)];

/** log(d) as a double-float, d > 0 (SLEEF logkf). */
function logF2(d: number): F2 {
  const tiny = d < FLT_MIN;
  if (tiny) d = f(d * f(2 ** 64));
  let e = ilogb2k(f(d * f(1 / 0.75)));
  const m = ldexp3(d, -e);
  if (tiny) e -= 64;
  const x = divF2(add2FF(-1, m), add2FF(1, m));
  const x2 = squF2(x);
  let t = f(0.240320354700088500976562);
  t = fma32(t, x2[0], f(0.285112679004669189453125));
  t = fma32(t, x2[0], f(0.400007992982864379882812));
  let s = mulF2F(LN2_HI_LO, e);
  s = addF2F2(s, scaleF2(x, 2));
  return addF2F2(s, mulF2F2(mulF2F2(x2, x), add2F2F2(mulF2F(x2, t), LOG_C)));
}

/** exp of a double-float argument (SLEEF expkf). */
function expF2(d: F2): number {
  let u = f(f(d[0] + d[1]) * R_LN2);
  const q = rintEven(u);
  let s = add2F2F(d, f(q * -L2U));
  s = add2F2F(s, f(q * -L2L));
  s = normalizeF2(s);
  u = f(0.00136324646882712841033936);
  u = fma32(u, s[0], f(0.00836596917361021041870117));
  u = fma32(u, s[0], f(0.0416710823774337768554688));
  u = fma32(u, s[0], f(0.166665524244308471679688));
  u = fma32(u, s[0], f(0.499999850988388061523438));
  let t = addF2F2(s, mulF2F(squF2(s), u));
  t = addFF2(1, t);
  u = ldexpSafe(f(t[0] + t[1]), q);
  return d[0] < -104 ? 0 : u;
}

/**
 * torch's float32 pow(x, y) on CPU (SLEEF powf u10 with FMA) for x >= 0 and finite y, bit-exact; the
 * special values follow C pow. Negative x is only defined for integer y and is not needed here.
 */
export function powf32(x: number, y: number): number {
  if (Number.isNaN(x) || Number.isNaN(y)) return y === 0 || x === 1 ? 1 : NaN;
  if (y === 0 || x === 1) return 1;
  if (x < 0) throw new RangeError('powf32: negative bases are not supported');
  if (x === 0) return y < 0 ? Infinity : 0;
  if (x === Infinity) return y < 0 ? 0 : Infinity;
  const r = expF2(mulF2F(logF2(x), y));
  return Number.isNaN(r) ? Infinity : r;
}
