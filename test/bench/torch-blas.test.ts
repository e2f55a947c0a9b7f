import { describe, expect, it } from 'vitest';
import { slowBlasWarning } from '../../src/bench/pytorch/reference.js';

describe('slowBlasWarning (is the same-run PyTorch reference on a slow BLAS?)', () => {
  it("names Debian's netlib reference BLAS and says how to get an optimised one", () => {
    const w = slowBlasWarning(['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0', '/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3.11.0']);
    expect(w).toContain('/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0');
    expect(w).toContain('libopenblas0-pthread');
  });
  it('is quiet for OpenBLAS (through the same alternatives link), MKL-bundling wheels and no BLAS at all', () => {
    expect(slowBlasWarning(['/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3', '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so'])).toBeUndefined();
    expect(slowBlasWarning(['/opt/conda/lib/libmkl_rt.so.2'])).toBeUndefined();
    expect(slowBlasWarning([])).toBeUndefined();
  });
});
