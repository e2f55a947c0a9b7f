"""PyTorch reference for `npm run bench train`'s stage-1 rows, measured in the same run as ours.

The computation of our stage-1 training graph (src/train/step/graphs.ts, buildSamTrainGraph with
input 'image', attention off, mode 'auto'), written here in plain torch for timing: not the official
code (MobileSAM's TinyViT needs timm from PyPI), but its module layout and state-dict keys, so the
golden checkpoint loads into it unchanged.

  image encoder: MobileSAM's TinyViT-5M (patch embedding, two MBConv blocks, PatchMerging, TinyViT
  blocks of windowed attention with relative-position biases + depthwise local conv + MLP, neck to
  256 channels) with SegmentAnyBone's adapters in stages 1 and 2 (Space_Adapter with skip on the
  attention output before its residual; MLP_Adapter without skip, scaled 0.5, beside the MLP). Every
  Conv2d_BN in train mode (batch statistics), as our graph (bnMode 'batchstats').
  mask decoder: stage2_step.py's, automatic mode, on the encoder's embedding (no attention fusion).
  loss: stage2_step.py's (MONAI DiceLoss(sigmoid, squared_pred, one-hot over 2 channels) + CE).
  trainable (STAGE1_TRAINABLE in src/train/loop/finetune.ts): every *Adapter.* parameter of the image
  encoder and the mask decoder; everything else frozen.

Usage:
  python3 stage1_step.py THREADS REPEATS BATCH [WEIGHTS]
                                                 one JSON line: medians in ms, peak RSS in MiB; random weights,
                                                 or those of an official-format checkpoint WEIGHTS (as ours)
  python3 stage1_step.py --check GOLDEN_DIR      parity with the golden fixtures: one JSON line with the
                                                 max abs errors (eval embedding and logits; train-mode logits),
                                                 and the train-mode stage-1 loss and two gradients on golden inputs
"""
import itertools
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from stage2_step import DIM, GRID, Adapter, Fusion, LayerNorm2d, MaskDecoder, PromptEncoder, golden, load, sam_loss
from step_timing import time_step

EMBED_DIMS = (64, 128, 160, 320)
DEPTHS = (2, 2, 6, 2)
HEADS = (2, 4, 5, 10)
WINDOWS = (7, 7, 14, 7)
ADAPTER_STAGES = (1, 2)  # SegmentAnyBone's encoder adapters: every block of stages 1 and 2
MERGE_STRIDES = (2, 2, 1)  # MobileSAM keeps 64x64 tokens into the last stage
MLP_RATIO = 4
MBCONV_EXPAND = 4
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GRAD_KEYS = ('mask_decoder.transformer.layers.0.Adapter.D_fc1.weight',
             'image_encoder.layers.2.blocks.3.MLP_Adapter.D_fc2.weight')  # the gradients --check prints


class ConvBN(nn.Sequential):
    """Conv2d_BN: a bias-free conv (`c`) and a BatchNorm2d (`bn`)."""

    def __init__(self, cin, cout, k=1, stride=1, pad=0, groups=1):
        super().__init__()
        self.add_module('c', nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False))
        self.add_module('bn', nn.BatchNorm2d(cout))


class PatchEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        c = EMBED_DIMS[0]
        self.seq = nn.Sequential(ConvBN(3, c // 2, 3, 2, 1), nn.GELU(), ConvBN(c // 2, c, 3, 2, 1))

    def forward(self, x):
        return self.seq(x)


class MBConv(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c * MBCONV_EXPAND
        self.conv1 = ConvBN(c, h)
        self.conv2 = ConvBN(h, h, 3, 1, 1, groups=h)
        self.conv3 = ConvBN(h, c)

    def forward(self, x):
        h = F.gelu(self.conv2(F.gelu(self.conv1(x))))
        return F.gelu(self.conv3(h) + x)


class PatchMerging(nn.Module):
    """NCHW in, NCHW out (the tokens' flattening is left to the caller)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = ConvBN(cin, cout)
        self.conv2 = ConvBN(cout, cout, 3, stride, 1, groups=cout)
        self.conv3 = ConvBN(cout, cout)

    def forward(self, x):
        return self.conv3(F.gelu(self.conv2(F.gelu(self.conv1(x)))))


class WindowAttention(nn.Module):
    """TinyViT attention on windows [B', T, C]: LayerNorm, qkv grouped per head [q|k|v], learned offset biases."""

    def __init__(self, dim, heads, window):
        super().__init__()
        self.heads = heads
        self.key_dim = dim // heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        points = list(itertools.product(range(window), range(window)))
        offsets, idxs = {}, []
        for p in points:
            for q in points:
                off = (abs(p[0] - q[0]), abs(p[1] - q[1]))
                idxs.append(offsets.setdefault(off, len(offsets)))
        self.attention_biases = nn.Parameter(torch.zeros(heads, len(offsets)))
        self.register_buffer('attention_bias_idxs', torch.tensor(idxs).view(len(points), len(points)), persistent=False)

    def forward(self, x):
        b, t, _ = x.shape
        qkv = self.qkv(self.norm(x)).view(b, t, self.heads, 3 * self.key_dim)
        q, k, v = qkv.permute(0, 2, 1, 3).split(self.key_dim, dim=3)
        a = (q @ k.transpose(-2, -1)) * self.key_dim ** -0.5 + self.attention_biases[:, self.attention_bias_idxs]
        out = (a.softmax(-1) @ v).transpose(1, 2).reshape(b, t, -1)
        return self.proj(out)


class Mlp(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim * MLP_RATIO)
        self.fc2 = nn.Linear(dim * MLP_RATIO, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(self.norm(x))))


class TinyVitBlock(nn.Module):
    """On channels-last x [B, H, W, C]: padded windowed attention (+ Space_Adapter), local conv, MLP (+ MLP_Adapter)."""

    def __init__(self, dim, heads, window, adapters):
        super().__init__()
        self.window = window
        self.attn = WindowAttention(dim, heads, window)
        self.mlp = Mlp(dim)
        self.local_conv = ConvBN(dim, dim, 3, 1, 1, groups=dim)
        if adapters:
            self.Space_Adapter = Adapter(skip=True, dim=dim)
            self.MLP_Adapter = Adapter(skip=False, dim=dim)
        self.adapters = adapters

    def forward(self, x):
        b, h, w, c = x.shape
        ws = self.window
        pb, pr = (ws - h % ws) % ws, (ws - w % ws) % ws
        xp = F.pad(x, (0, 0, 0, pr, 0, pb))  # zeros at the bottom/right, before the attention's LayerNorm
        nh, nw = (h + pb) // ws, (w + pr) // ws
        win = xp.view(b, nh, ws, nw, ws, c).transpose(2, 3).reshape(b * nh * nw, ws * ws, c)
        a = self.attn(win).view(b, nh, nw, ws, ws, c).transpose(2, 3).reshape(b, h + pb, w + pr, c)[:, :h, :w]
        if self.adapters:
            a = self.Space_Adapter(a)
        y = x + a
        y = self.local_conv(y.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        out = y + self.mlp(y)
        if self.adapters:
            out = out + 0.5 * self.MLP_Adapter(y)
        return out


class Stage(nn.Module):
    def __init__(self, i):
        super().__init__()
        c = EMBED_DIMS[i]
        if i == 0:
            self.blocks = nn.ModuleList([MBConv(c) for _ in range(DEPTHS[i])])
        else:
            self.blocks = nn.ModuleList(
                [TinyVitBlock(c, HEADS[i], WINDOWS[i], i in ADAPTER_STAGES) for _ in range(DEPTHS[i])])
        if i < len(DEPTHS) - 1:
            self.downsample = PatchMerging(c, EMBED_DIMS[i + 1], MERGE_STRIDES[i])


class ImageEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embed = PatchEmbed()
        self.layers = nn.ModuleList([Stage(i) for i in range(len(DEPTHS))])
        last = EMBED_DIMS[-1]
        self.neck = nn.Sequential(
            nn.Conv2d(last, DIM, 1, bias=False), LayerNorm2d(DIM), nn.Conv2d(DIM, DIM, 3, padding=1, bias=False),
            LayerNorm2d(DIM))

    def forward(self, image):
        x = self.patch_embed(image)
        stage0 = self.layers[0]
        for blk in stage0.blocks:
            x = blk(x)
        x = stage0.downsample(x).permute(0, 2, 3, 1)  # channels-last tokens from here
        for layer in self.layers[1:]:
            for blk in layer.blocks:
                x = blk(x)
            if hasattr(layer, 'downsample'):
                x = layer.downsample(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.neck(x.permute(0, 3, 1, 2))


class Stage1(nn.Module):
    """image -> encoder -> mask decoder (automatic mode); `attention_fusion` only for --check's train-mode logits."""

    def __init__(self, with_fusion=False):
        super().__init__()
        self.image_encoder = ImageEncoder()
        self.prompt_encoder = PromptEncoder()
        self.mask_decoder = MaskDecoder()
        if with_fusion:
            self.attention_fusion = Fusion()
        for name, p in self.named_parameters():
            p.requires_grad_('Adapter.' in name and name.startswith(('image_encoder.', 'mask_decoder.')))
        self.register_buffer('pe_tokens', self.prompt_encoder.image_pe_tokens(), persistent=False)

    def refresh_pe(self):
        with torch.no_grad():
            self.pe_tokens = self.prompt_encoder.image_pe_tokens()

    def decode(self, emb, with_iou=False):
        return self.mask_decoder(emb, self.pe_tokens, self.prompt_encoder.no_mask_embed.weight, with_iou)

    def forward(self, image, with_iou=False):
        return self.decode(self.image_encoder(image), with_iou)


def timing(threads, repeats, batch, weights=None):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = Stage1()
    if weights:
        load(net, weights)
    net.train()
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    image = torch.rand(batch, 3, 1024, 1024) * 4 - 2
    target = (torch.rand(batch, 1, 4 * GRID, 4 * GRID) > 0.6).float()

    def step():
        opt.zero_grad(set_to_none=True)
        sam_loss(net(image)[0], target)[2].backward()

    print(json.dumps({
        'torch': torch.__version__,
        'weights': weights or 'random',
        **time_step(step, opt, lambda: sam_loss(net(image)[0], target), repeats),
        'parameters': sum(p.numel() for p in params if p.grad is not None),
    }))


def check(directory):
    torch.set_num_threads(2)
    net = Stage1(with_fusion=True)
    load(net, os.path.join(directory, 'bone_sam.pth'))
    prenorm = golden(directory, 'encoder_input_prenorm', (1, 1, 1024, 1024))
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    image = (prenorm.expand(1, 3, 1024, 1024) - mean) / std
    out = {'keysLoaded': len(net.state_dict())}

    def compare(name, mine, shape):
        ref = golden(directory, name, shape)
        out[name] = {'maxAbsErr': (mine - ref).abs().max().item(), 'maxAbsRef': ref.abs().max().item()}

    with torch.no_grad():
        net.eval()
        emb = net.image_encoder(image)
        compare('image_embedding', emb, (1, DIM, GRID, GRID))
        compare('auto_noatten_lowres_logits', net.decode(emb)[0], (1, 2, 4 * GRID, 4 * GRID))
        # Train mode: every BatchNorm on batch statistics, the fusion with the batch-statistics attention map (the
        # golden training forward includes it).
        net.train()
        att = golden(directory, 'attention_map_batchstats', (1, GRID, GRID))
        compare('train_lowres_logits', net.decode(net.attention_fusion(net.image_encoder(image), att))[0],
                (1, 2, 4 * GRID, 4 * GRID))
    # Stage 1 proper (no fusion), train mode on golden inputs, for comparison with our graph: the loss, which
    # parameters get a gradient, and two gradients: a decoder adapter's (no BatchNorm between it and the loss) and an
    # encoder adapter's (whose backward passes the local convs' BatchNorms; ERRATA.md's batch-1 BatchNorm backward
    # error of torch 1.13 is the fusion's, which stage 1 does not have).
    net.train()
    target = golden(directory, 'train_target_256', (1, 1, 4 * GRID, 4 * GRID))
    dice, ce, total = sam_loss(net(image)[0], target)
    total.backward()
    out['trainLoss'] = {'dice': dice.item(), 'ce': ce.item(), 'total': total.item(),
                        'inputs': 'encoder_input_prenorm (normalised), train_target_256'}
    out['gradParams'] = sorted(n for n, p in net.named_parameters() if p.grad is not None)
    named = dict(net.named_parameters())
    out['grad'] = {k: named[k].grad.flatten().tolist() for k in GRAD_KEYS}
    print(json.dumps(out))


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--check':
        check(sys.argv[2])
    elif len(sys.argv) in (4, 5):
        timing(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) == 5 else None)
    else:
        raise SystemExit(__doc__)
