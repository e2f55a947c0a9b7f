"""PyTorch reference for `npm run bench train`'s stage-1 `sab finetune` iteration, measured in the same run as ours.

A stage-1 iteration trains two networks in one process: the SAM part (stage1_step.py's TinyViT with adapters and the
mask decoder, automatic mode) and the depth-attention VNet (vnet_step.py's MONAI layout), each with its own AdamW, at
the same batch. This times that pair of steps (zero_grad + forward + loss + backward + AdamW, SAM then VNet) on
synthetic inputs, so the process's peak RSS is what holding both models, their optimiser states and one step's
activations at a time costs in PyTorch; ours also samples and augments the data, which this does not. Prints one JSON
line: median ms per iteration and the peak RSS in MiB.

Usage: python3 stage1_iteration.py THREADS REPEATS BATCH [BONE_SAM_PTH]
"""
import json
import statistics
import sys

import torch

from stage1_step import Stage1
from stage2_step import GRID, load, sam_loss
from step_timing import mapped_blas, peak_rss_mib, timed
from vnet_step import VNet, loss_fn


def main(threads, repeats, batch, weights=None):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    sam = Stage1()
    if weights:
        load(sam, weights)
    sam.train()
    sam_opt = torch.optim.AdamW([p for p in sam.parameters() if p.requires_grad], lr=1e-4)
    vnet = VNet()
    vnet_opt = torch.optim.AdamW(vnet.parameters(), lr=1e-4)
    image = torch.rand(batch, 3, 1024, 1024) * 4 - 2
    target = (torch.rand(batch, 1, 4 * GRID, 4 * GRID) > 0.6).float()
    volume = torch.rand(batch, 1, 64, 64, 64) * 2 - 1
    volume_target = (torch.rand(batch, 1, 64, 64, 64) > 0.8).float()

    def iteration():
        sam_opt.zero_grad(set_to_none=True)
        sam_loss(sam(image)[0], target)[2].backward()
        sam_opt.step()
        vnet_opt.zero_grad(set_to_none=True)
        loss_fn(vnet(volume), volume_target).backward()
        vnet_opt.step()

    iteration()  # warm-up, and both AdamW states allocated
    times = [timed(iteration) for _ in range(repeats)]
    print(json.dumps({
        'torch': torch.__version__,
        'weights': weights or 'random',
        'iterationMs': statistics.median(times),
        'peakRssMiB': peak_rss_mib(),
        'blas': mapped_blas(),
    }))


if __name__ == '__main__':
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) == 5 else None)
