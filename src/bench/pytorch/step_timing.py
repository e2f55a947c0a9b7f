"""The timing both PyTorch reference steps of `npm run bench train` share (vnet_step.py, stage2_step.py).

A step (zero_grad + forward + loss + backward) and AdamW timed `repeats` times after one warm-up, then the
train-mode forward + loss under no_grad (what our "forward only" graph runs); medians in ms and the
process's peak RSS in MiB, and the BLAS/LAPACK libraries the timed process has mapped (so the caller can tell a
slow reference BLAS from an optimised one), printed by the callers as one JSON line.
"""
import resource
import statistics
import time

import torch


def timed(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def mapped_blas():
    try:
        with open('/proc/self/maps') as f:
            paths = {line.split()[-1] for line in f if 'blas' in line.lower() or 'lapack' in line.lower()}
    except OSError:  # not Linux: nothing to tell
        return []
    return sorted(p for p in paths if p.startswith('/'))


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_step(step, optimizer, forward, repeats):
    step()
    optimizer.step()  # warm-up, and AdamW's state allocated
    steps, optims, forwards = [], [], []
    for _ in range(repeats):
        steps.append(timed(step))
        optims.append(timed(optimizer.step))
    with torch.no_grad():  # batch statistics, no backward, as ours
        timed(forward)
        for _ in range(repeats):
            forwards.append(timed(forward))
    return {
        'stepMs': statistics.median(steps),
        'adamwMs': statistics.median(optims),
        'forwardMs': statistics.median(forwards),
        'peakRssMiB': peak_rss_mib(),
        'blas': mapped_blas(),
    }
