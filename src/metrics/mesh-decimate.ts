import { MetricsInputError } from './errors.js';
import type { TriangleMesh } from './mesh-types.js';

/** Min-heap of candidate edge collapses; entries carry the vertex versions they were computed for. */
class CollapseHeap {
  private cost = new Float64Array(1024);
  private u = new Int32Array(1024);
  private v = new Int32Array(1024);
  private eu = new Int32Array(1024);
  private ev = new Int32Array(1024);
  size = 0;

  push(cost: number, u: number, v: number, eu: number, ev: number): void {
    if (this.size === this.cost.length) this.grow();
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.cost[parent] <= cost) break;
      this.move(parent, i);
      i = parent;
    }
    this.set(i, cost, u, v, eu, ev);
  }

  /** Removes the cheapest entry into `out` = [u, v, eu, ev]. */
  pop(out: Int32Array): void {
    out[0] = this.u[0];
    out[1] = this.v[0];
    out[2] = this.eu[0];
    out[3] = this.ev[0];
    const last = --this.size;
    const c = this.cost[last], u = this.u[last], v = this.v[last], eu = this.eu[last], ev = this.ev[last];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (child + 1 < last && this.cost[child + 1] < this.cost[child]) child++;
      if (this.cost[child] >= c) break;
      this.move(child, i);
      i = child;
    }
    this.set(i, c, u, v, eu, ev);
  }

  private set(i: number, c: number, u: number, v: number, eu: number, ev: number): void {
    this.cost[i] = c;
    this.u[i] = u;
    this.v[i] = v;
    this.eu[i] = eu;
    this.ev[i] = ev;
  }

  private move(from: number, to: number): void {
    this.set(to, this.cost[from], this.u[from], this.v[from], this.eu[from], this.ev[from]);
  }

  private grow(): void {
    const n = this.cost.length * 2;
    const g = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.cost = g(this.cost, (k) => new Float64Array(k));
    this.u = g(this.u, (k) => new Int32Array(k));
    this.v = g(this.v, (k) => new Int32Array(k));
    this.eu = g(this.eu, (k) => new Int32Array(k));
    this.ev = g(this.ev, (k) => new Int32Array(k));
  }
}

/**
 * Simplified copy of a closed manifold mesh keeping about `keepRatio` of its triangles (0 < ratio <= 1;
 * e.g. 0.25 keeps a quarter). Greedy edge collapse to the edge midpoint, cheapest first by the
 * Garland–Heckbert quadric error (area-weighted planes; ties broken by edge length). A collapse is refused
 * when it would break the 2-manifold (link condition: the two end points share exactly the two opposite
 * vertices) or fold a triangle over (its normal turns by more than ~78 degrees), so the result stays closed.
 */
export function decimateMesh(mesh: TriangleMesh, keepRatio: number): TriangleMesh {
  if (!(keepRatio > 0 && keepRatio <= 1)) throw new MetricsInputError(`decimation ratio must be in (0, 1], got ${keepRatio}`);
  const nv = mesh.positions.length / 3;
  const nt = mesh.triangles.length / 3;
  const target = Math.max(4, Math.round(nt * keepRatio));
  if (target >= nt) return { positions: Float64Array.from(mesh.positions), triangles: Uint32Array.from(mesh.triangles) };
  const pos = Float64Array.from(mesh.positions);
  const tri = Int32Array.from(mesh.triangles);
  const triAlive = new Uint8Array(nt).fill(1);
  const vertAlive = new Uint8Array(nv).fill(1);
  const version = new Int32Array(nv);
  const vertTris: number[][] = Array.from({ length: nv }, () => []);
  for (let t = 0; t < nt; t++) for (let e = 0; e < 3; e++) vertTris[tri[3 * t + e]].push(t);

  // quadrics: 10 unique entries of the symmetric 4x4 sum of w * p p^T, p = (n, -n·a)
  const Q = new Float64Array(10 * nv);
  for (let t = 0; t < nt; t++) {
    const a = 3 * tri[3 * t], b = 3 * tri[3 * t + 1], c = 3 * tri[3 * t + 2];
    const ux = pos[b] - pos[a], uy = pos[b + 1] - pos[a + 1], uz = pos[b + 2] - pos[a + 2];
    const vx = pos[c] - pos[a], vy = pos[c + 1] - pos[a + 1], vz = pos[c + 2] - pos[a + 2];
    let nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    const len = Math.hypot(nx, ny, nz);
    if (len === 0) continue;
    const w = len / 2;
    nx /= len; ny /= len; nz /= len;
    const d = -(nx * pos[a] + ny * pos[a + 1] + nz * pos[a + 2]);
    const q = [nx * nx, nx * ny, nx * nz, nx * d, ny * ny, ny * nz, ny * d, nz * nz, nz * d, d * d];
    for (let e = 0; e < 3; e++) {
      const o = 10 * tri[3 * t + e];
      for (let k = 0; k < 10; k++) Q[o + k] += w * q[k];
    }
  }

  const cost = (u: number, v: number): number => {
    const x = (pos[3 * u] + pos[3 * v]) / 2, y = (pos[3 * u + 1] + pos[3 * v + 1]) / 2, z = (pos[3 * u + 2] + pos[3 * v + 2]) / 2;
    const a = 10 * u, b = 10 * v;
    const q = (k: number): number => Q[a + k] + Q[b + k];
    const err =
      q(0) * x * x + 2 * q(1) * x * y + 2 * q(2) * x * z + 2 * q(3) * x +
      q(4) * y * y + 2 * q(5) * y * z + 2 * q(6) * y +
      q(7) * z * z + 2 * q(8) * z + q(9);
    const lx = pos[3 * u] - pos[3 * v], ly = pos[3 * u + 1] - pos[3 * v + 1], lz = pos[3 * u + 2] - pos[3 * v + 2];
    return Math.max(0, err) + 1e-9 * (lx * lx + ly * ly + lz * lz);
  };

  const stamp = new Int32Array(nv);
  let stampValue = 0;
  const neighboursOf = (u: number): number[] => {
    stampValue++;
    const out: number[] = [];
    for (const t of vertTris[u]) {
      if (!triAlive[t]) continue;
      for (let e = 0; e < 3; e++) {
        const w = tri[3 * t + e];
        if (w !== u && stamp[w] !== stampValue) {
          stamp[w] = stampValue;
          out.push(w);
        }
      }
    }
    return out;
  };

  const heap = new CollapseHeap();
  for (let u = 0; u < nv; u++) for (const w of neighboursOf(u)) if (u < w) heap.push(cost(u, w), u, w, 0, 0);

  const normalOf = (a: number, b: number, c: number, out: Float64Array, moved: number, mx: number, my: number, mz: number): void => {
    const px = (i: number, k: number): number => (i === moved ? (k === 0 ? mx : k === 1 ? my : mz) : pos[3 * i + k]);
    const ux = px(b, 0) - px(a, 0), uy = px(b, 1) - px(a, 1), uz = px(b, 2) - px(a, 2);
    const vx = px(c, 0) - px(a, 0), vy = px(c, 1) - px(a, 1), vz = px(c, 2) - px(a, 2);
    out[0] = uy * vz - uz * vy;
    out[1] = uz * vx - ux * vz;
    out[2] = ux * vy - uy * vx;
  };
  const nOld = new Float64Array(3);
  const nNew = new Float64Array(3);
  const entry = new Int32Array(4);
  let alive = nt;

  while (alive > target && heap.size > 0) {
    heap.pop(entry);
    const [u, v, eu, ev] = entry;
    if (!vertAlive[u] || !vertAlive[v] || version[u] !== eu || version[v] !== ev) continue;
    const shared: number[] = [];
    for (const t of vertTris[u]) {
      if (triAlive[t] && (tri[3 * t] === v || tri[3 * t + 1] === v || tri[3 * t + 2] === v)) shared.push(t);
    }
    if (shared.length !== 2 || alive - 2 < 4) continue;
    // link condition
    neighboursOf(u);
    const uStamp = stampValue;
    let common = 0;
    for (const t of vertTris[v]) {
      if (!triAlive[t]) continue;
      for (let e = 0; e < 3; e++) {
        const w = tri[3 * t + e];
        if (w !== v && w !== u && stamp[w] === uStamp) {
          stamp[w] = -1; // count each common neighbour once
          common++;
        }
      }
    }
    if (common !== 2) continue;
    const mx = (pos[3 * u] + pos[3 * v]) / 2, my = (pos[3 * u + 1] + pos[3 * v + 1]) / 2, mz = (pos[3 * u + 2] + pos[3 * v + 2]) / 2;
    let folds = false;
    for (const end of [u, v]) {
      for (const t of vertTris[end]) {
        if (!triAlive[t] || t === shared[0] || t === shared[1]) continue;
        const a = tri[3 * t], b = tri[3 * t + 1], c = tri[3 * t + 2];
        normalOf(a, b, c, nOld, -1, 0, 0, 0);
        normalOf(a, b, c, nNew, end, mx, my, mz);
        const dot = nOld[0] * nNew[0] + nOld[1] * nNew[1] + nOld[2] * nNew[2];
        const lenProduct = Math.hypot(nOld[0], nOld[1], nOld[2]) * Math.hypot(nNew[0], nNew[1], nNew[2]);
        if (!(dot > 0.2 * lenProduct)) {
          folds = true;
          break;
        }
      }
      if (folds) break;
    }
    if (folds) continue;
    // collapse v into u
    triAlive[shared[0]] = 0;
    triAlive[shared[1]] = 0;
    alive -= 2;
    for (const t of vertTris[v]) {
      if (!triAlive[t]) continue;
      for (let e = 0; e < 3; e++) if (tri[3 * t + e] === v) tri[3 * t + e] = u;
      vertTris[u].push(t);
    }
    vertTris[v] = [];
    vertAlive[v] = 0;
    vertTris[u] = vertTris[u].filter((t) => triAlive[t] === 1);
    pos[3 * u] = mx;
    pos[3 * u + 1] = my;
    pos[3 * u + 2] = mz;
    for (let k = 0; k < 10; k++) Q[10 * u + k] += Q[10 * v + k];
    version[u]++;
    for (const w of neighboursOf(u)) heap.push(cost(u, w), u, w, version[u], version[w]);
  }

  const remap = new Int32Array(nv).fill(-1);
  let nOut = 0;
  const triangles = new Uint32Array(3 * alive);
  let k = 0;
  for (let t = 0; t < nt; t++) {
    if (!triAlive[t]) continue;
    for (let e = 0; e < 3; e++) {
      const w = tri[3 * t + e];
      if (remap[w] < 0) remap[w] = nOut++;
      triangles[k++] = remap[w];
    }
  }
  const positions = new Float64Array(3 * nOut);
  for (let w = 0; w < nv; w++) {
    if (remap[w] < 0) continue;
    positions.set(pos.subarray(3 * w, 3 * w + 3), 3 * remap[w]);
  }
  return { positions, triangles };
}
