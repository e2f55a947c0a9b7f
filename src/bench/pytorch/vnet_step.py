"""PyTorch reference for `npm run bench train`'s VNet row, measured in the same run as ours.

MONAI's default VNet layout (3-D, 1 -> 1 channels, 5x5x5 convs, BatchNorm3d, ELU; the layout
src/model/vnet.ts documents; dropout off as there), written here for timing only: it is not the
official code, which takes MONAI from PyPI. Its convolutions run on oneDNN, as pip's torch 1.13 does.
Loss as src/train/step/losses.ts: BCE with logits (mean) + Tversky (0.7 on false negatives, 0.3 on
false positives). Prints one JSON line: medians in ms and the process's peak RSS in MiB.

Usage: python3 vnet_step.py THREADS REPEATS
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from step_timing import time_step


def conv_bn(ci, co):
    return nn.Sequential(nn.Conv3d(ci, co, 5, padding=2, bias=False), nn.BatchNorm3d(co))


class LUConvs(nn.Module):
    def __init__(self, c, n):
        super().__init__()
        self.ops = nn.ModuleList([conv_bn(c, c) for _ in range(n)])

    def forward(self, x):
        for op in self.ops:
            x = F.elu(op(x))
        return x


class Down(nn.Module):
    def __init__(self, ci, n):
        super().__init__()
        self.conv = nn.Conv3d(ci, 2 * ci, 2, stride=2, bias=False)
        self.bn = nn.BatchNorm3d(2 * ci)
        self.ops = LUConvs(2 * ci, n)

    def forward(self, x):
        down = F.elu(self.bn(self.conv(x)))
        return F.elu(self.ops(down) + down)


class Up(nn.Module):
    def __init__(self, ci, co, n):
        super().__init__()
        self.conv = nn.ConvTranspose3d(ci, co // 2, 2, stride=2)
        self.bn = nn.BatchNorm3d(co // 2)
        self.ops = LUConvs(co, n)

    def forward(self, x, skip):
        cat = torch.cat([F.elu(self.bn(self.conv(x))), skip], 1)
        return F.elu(self.ops(cat) + cat)


class VNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = conv_bn(1, 16)
        self.downs = nn.ModuleList([Down(16, 1), Down(32, 2), Down(64, 3), Down(128, 2)])
        self.ups = nn.ModuleList([Up(256, 256, 2), Up(256, 128, 2), Up(128, 64, 1), Up(64, 32, 1)])
        self.out = conv_bn(32, 1)
        self.out2 = nn.Conv3d(1, 1, 1)

    def forward(self, x):
        h = F.elu(self.inp(x) + x)  # the 1-channel input broadcast to 16, as MONAI's repeat
        skips = [h]
        for down in self.downs:
            h = down(h)
            skips.append(h)
        skips.pop()
        for up in self.ups:
            h = up(h, skips.pop())
        return self.out2(F.elu(self.out(h)))


def loss_fn(logits, target):
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    tp = (p * target).sum()
    fn = ((1 - p) * target).sum()
    fp = (p * (1 - target)).sum()
    return bce + 1 - tp / (tp + 0.7 * fn + 0.3 * fp)


def main():
    threads, repeats = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = VNet()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    x = torch.rand(1, 1, 64, 64, 64) * 2 - 1
    target = (torch.rand(1, 1, 64, 64, 64) > 0.8).float()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), target).backward()

    print(json.dumps({
        'torch': torch.__version__,
        'parameters': sum(p.numel() for p in net.parameters()),
        **time_step(step, opt, lambda: loss_fn(net(x), target), repeats),
    }))


if __name__ == '__main__':
    main()
