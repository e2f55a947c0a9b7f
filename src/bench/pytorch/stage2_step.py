"""PyTorch reference for `npm run bench train`'s stage-2 rows, measured in the same run as ours.

The computation of our stage-2 training graph (src/train/step/graphs.ts, buildSamTrainGraph with
input 'embedding', attention on, mode 'auto'), written here in plain torch for timing: not the
official code (which needs timm and einops from PyPI), but its module layout and state-dict keys, so
the golden checkpoint loads into it unchanged.

  fused = (1 - gate) * emb + gate * BN(Conv3x3(ReLU(BN(Conv3x3(emb * att)))))   BatchNorm in train mode
  mask decoder: two-way transformer (depth 2, 8 heads, cross attention at width 128, ReLU MLP 2048) with
  SegmentAnyBone's adapters (Adapter with skip after the token-to-image residual and again, the same
  weights, after the image-to-token residual; MLP_Adapter without skip, scaled 0.5, beside the MLP),
  automatic mode: no sparse prompt tokens, no_mask_embed added to every grid token, the output tokens
  (IoU + 3 mask tokens) expanded over the batch; output upscaling and the hypernetworks of mask tokens
  1 and 2 only (the multimask channels the loss reads; the IoU head and token 0 do not reach the loss,
  and our graph leaves them out).
  loss (src/train/step/losses.ts): MONAI DiceLoss(sigmoid, squared_pred, one-hot over the 2 channels)
  + CrossEntropy over the 2 channels.
  trainable (STAGE2_TRAINABLE in src/train/loop/finetune.ts): every attention_fusion.* and mask_decoder.*
  parameter; the prompt encoder is frozen (its dense positional encoding is a constant).

Usage:
  python3 stage2_step.py THREADS REPEATS BATCH [WEIGHTS]
                                                 one JSON line: medians in ms, peak RSS in MiB; random weights,
                                                 or those of an official-format checkpoint WEIGHTS (as ours)
  python3 stage2_step.py --check GOLDEN_DIR      parity with the golden fixtures: one JSON line with the
                                                 max abs errors, and the train-mode loss on golden inputs
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from step_timing import time_step

DIM = 256
GRID = 64
HEADS = 8
MASK_TOKENS = 3
OUTPUT_TOKENS = (1, 2)  # multimask channels; channel 1 = bone
DICE_SMOOTH = 1e-5
GRAD_KEY = 'mask_decoder.transformer.layers.0.Adapter.D_fc1.weight'  # the gradient --check prints


class Fusion(nn.Module):
    """attention_fusion.*: gate [1] and fuse_emb = conv, BN, ReLU, conv, BN (module indices 0..4)."""

    def __init__(self):
        super().__init__()
        self.gate = nn.Parameter(torch.full((1,), 0.5))
        self.fuse_emb = nn.Sequential(
            nn.Conv2d(DIM, DIM, 3, padding=1), nn.BatchNorm2d(DIM), nn.ReLU(),
            nn.Conv2d(DIM, DIM, 3, padding=1), nn.BatchNorm2d(DIM))

    def forward(self, emb, att):
        branch = self.fuse_emb(emb * att.unsqueeze(1))
        return (1 - self.gate) * emb + self.gate * branch


class Attention(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.q_proj = nn.Linear(DIM, inner)
        self.k_proj = nn.Linear(DIM, inner)
        self.v_proj = nn.Linear(DIM, inner)
        self.out_proj = nn.Linear(inner, DIM)
        self.head_dim = inner // HEADS

    def heads(self, x):
        n, t, _ = x.shape
        return x.reshape(n, t, HEADS, self.head_dim).transpose(1, 2)

    def forward(self, q, k, v):
        qh, kh, vh = self.heads(self.q_proj(q)), self.heads(self.k_proj(k)), self.heads(self.v_proj(v))
        a = torch.softmax(qh @ kh.transpose(2, 3) / math.sqrt(self.head_dim), dim=-1)
        out = (a @ vh).transpose(1, 2)
        return self.out_proj(out.reshape(out.shape[0], out.shape[1], -1))


class Adapter(nn.Module):
    """Linear d -> d/4, GELU, Linear d/4 -> d; optional skip (d = 256 in the decoder; the encoder's stage widths)."""

    def __init__(self, skip, dim=DIM):
        super().__init__()
        self.D_fc1 = nn.Linear(dim, dim // 4)
        self.D_fc2 = nn.Linear(dim // 4, dim)
        self.skip = skip

    def forward(self, x):
        h = self.D_fc2(F.gelu(self.D_fc1(x)))
        return x + h if self.skip else h


class FeedForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin1 = nn.Linear(DIM, 2048)
        self.lin2 = nn.Linear(2048, DIM)

    def forward(self, x):
        return self.lin2(F.relu(self.lin1(x)))


class Block(nn.Module):
    def __init__(self, first):
        super().__init__()
        self.first = first
        self.self_attn = Attention(DIM)
        self.cross_attn_token_to_image = Attention(DIM // 2)
        self.cross_attn_image_to_token = Attention(DIM // 2)
        self.norm1, self.norm2, self.norm3, self.norm4 = (nn.LayerNorm(DIM) for _ in range(4))
        self.mlp = FeedForward()
        self.Adapter = Adapter(skip=True)
        self.MLP_Adapter = Adapter(skip=False)

    def forward(self, queries, keys, query_pe, key_pe):
        if self.first:  # block 0: no query PE and no residual on the self attention
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.norm1(queries)
        keys_pe = keys + key_pe
        queries = queries + self.cross_attn_token_to_image(queries + query_pe, keys_pe, keys)
        queries = self.norm2(self.Adapter(queries))
        queries = self.norm3(queries + self.mlp(queries) + 0.5 * self.MLP_Adapter(queries))
        keys = keys + self.cross_attn_image_to_token(keys_pe, queries + query_pe, queries)
        keys = self.norm4(self.Adapter(keys))
        return queries, keys


class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([Block(first=i == 0) for i in range(2)])
        self.final_attn_token_to_image = Attention(DIM // 2)
        self.norm_final_attn = nn.LayerNorm(DIM)

    def forward(self, keys, key_pe, tokens):
        queries = tokens
        for layer in self.layers:
            queries, keys = layer(queries, keys, tokens, key_pe)
        queries = queries + self.final_attn_token_to_image(queries + tokens, keys + key_pe, keys)
        return self.norm_final_attn(queries), keys


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an NCHW map (eps 1e-6)."""

    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + 1e-6)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class MLP(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])])

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


class MaskDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = Transformer()
        self.iou_token = nn.Embedding(1, DIM)
        self.mask_tokens = nn.Embedding(MASK_TOKENS, DIM)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(DIM, DIM // 4, 2, stride=2), LayerNorm2d(DIM // 4), nn.GELU(),
            nn.ConvTranspose2d(DIM // 4, DIM // 8, 2, stride=2), nn.GELU())
        self.output_hypernetworks_mlps = nn.ModuleList([MLP([DIM, DIM, DIM, DIM // 8]) for _ in range(MASK_TOKENS)])
        self.iou_prediction_head = MLP([DIM, DIM, DIM, MASK_TOKENS])

    def forward(self, emb, image_pe_tokens, dense, with_iou):
        n = emb.shape[0]
        tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], 0).unsqueeze(0).expand(n, -1, -1)
        keys = emb.flatten(2).transpose(1, 2) + dense  # [N, 4096, 256]
        queries, keys = self.transformer(keys, image_pe_tokens, tokens)
        upscaled = self.output_upscaling(keys.transpose(1, 2).reshape(n, DIM, GRID, GRID))  # [N, 32, 256, 256]
        hyper = torch.stack([self.output_hypernetworks_mlps[t](queries[:, 1 + t]) for t in OUTPUT_TOKENS], 1)
        logits = (hyper @ upscaled.flatten(2)).reshape(n, len(OUTPUT_TOKENS), 4 * GRID, 4 * GRID)
        if not with_iou:
            return logits, None
        iou = self.iou_prediction_head(queries[:, 0])[:, OUTPUT_TOKENS[0]:OUTPUT_TOKENS[-1] + 1]
        return logits, iou


class PromptEncoder(nn.Module):
    """The frozen parts the automatic mode reads: the grid's random-Fourier PE and no_mask_embed."""

    def __init__(self):
        super().__init__()
        self.pe_layer = nn.Module()
        self.pe_layer.register_buffer('positional_encoding_gaussian_matrix', torch.randn(2, DIM // 2))
        self.no_mask_embed = nn.Embedding(1, DIM)

    def image_pe_tokens(self):
        centres = (torch.arange(GRID, dtype=torch.float32) + 0.5) / GRID
        y, x = torch.meshgrid(centres, centres, indexing='ij')
        coords = torch.stack([x, y], -1).reshape(1, GRID * GRID, 2)  # token = row * 64 + col, (x, y)
        proj = (2 * coords - 1) @ self.pe_layer.positional_encoding_gaussian_matrix * (2 * math.pi)
        return torch.cat([torch.sin(proj), torch.cos(proj)], -1)


class Stage2(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention_fusion = Fusion()
        self.prompt_encoder = PromptEncoder()
        self.mask_decoder = MaskDecoder()
        for p in self.prompt_encoder.parameters():
            p.requires_grad_(False)
        self.register_buffer('pe_tokens', self.prompt_encoder.image_pe_tokens(), persistent=False)

    def refresh_pe(self):
        with torch.no_grad():
            self.pe_tokens = self.prompt_encoder.image_pe_tokens()

    def forward(self, emb, att, with_iou=False):
        fused = self.attention_fusion(emb, att)
        return self.mask_decoder(fused, self.pe_tokens, self.prompt_encoder.no_mask_embed.weight, with_iou)


def sam_loss(logits, target):
    """logits [B,2,H,W], target [B,1,H,W] 0/1 float -> (dice, ce, total)."""
    onehot = torch.cat([1 - target, target], 1)
    p = torch.sigmoid(logits)
    inter = (p * onehot).sum((2, 3))
    ground = (onehot * onehot).sum((2, 3))
    pred = (p * p).sum((2, 3))
    dice = (1 - (2 * inter + DICE_SMOOTH) / (ground + pred + DICE_SMOOTH)).mean()
    ce = F.cross_entropy(logits, target[:, 0].long())
    return dice, ce, dice + ce


def load(net, path):
    sd = torch.load(path, map_location='cpu', weights_only=True)  # tensors only: nothing in the file runs
    mine = net.state_dict()
    missing = sorted(k for k in mine if k not in sd)
    if missing:
        raise SystemExit(f'{path} lacks {missing[:5]}')
    net.load_state_dict({k: v for k, v in sd.items() if k in mine}, strict=True)
    net.refresh_pe()


def timing(threads, repeats, batch, weights=None):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = Stage2()
    if weights:
        load(net, weights)
    net.train()
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    emb = (torch.rand(batch, DIM, GRID, GRID) * 2 - 1) * 0.5
    att = torch.rand(batch, GRID, GRID)
    target = (torch.rand(batch, 1, 4 * GRID, 4 * GRID) > 0.8).float()

    def step():
        opt.zero_grad(set_to_none=True)
        sam_loss(net(emb, att)[0], target)[2].backward()

    print(json.dumps({
        'torch': torch.__version__,
        'weights': weights or 'random',
        **time_step(step, opt, lambda: sam_loss(net(emb, att)[0], target), repeats),
        # Those the loss reaches (counted after the timed steps, which set their gradients).
        'parameters': sum(p.numel() for p in params if p.grad is not None),
    }))


def golden(directory, name, shape):
    with open(os.path.join(directory, f'{name}.bin'), 'rb') as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(shape)


def check(directory):
    torch.set_num_threads(2)
    net = Stage2()
    load(net, os.path.join(directory, 'bone_sam.pth'))
    emb = golden(directory, 'image_embedding', (1, DIM, GRID, GRID))
    out = {'keysLoaded': len(net.state_dict())}
    net.eval()
    with torch.no_grad():
        att = golden(directory, 'attention_map_eval', (1, GRID, GRID))
        fused = net.attention_fusion(emb, att)
        logits, iou = net(emb, att, with_iou=True)
        for name, mine_t, ref in [
            ('fused_embedding_eval', fused, golden(directory, 'fused_embedding_eval', (1, DIM, GRID, GRID))),
            ('auto_lowres_logits_eval', logits, golden(directory, 'auto_lowres_logits_eval', (1, 2, 4 * GRID, 4 * GRID))),
            ('auto_iou_pred_eval', iou, golden(directory, 'auto_iou_pred_eval', (1, 2))),
        ]:
            out[name] = {'maxAbsErr': (mine_t - ref).abs().max().item(), 'maxAbsRef': ref.abs().max().item()}
    # Train mode (fusion BatchNorm on batch statistics) on golden inputs, for comparison with our graph: the loss,
    # which parameters get a gradient, and one decoder gradient (not a fusion one: at batch 1 torch 1.13's CPU
    # BatchNorm backward is wrong here, see ERRATA.md; the decoder's gradients are computed before it).
    net.train()
    att = golden(directory, 'attention_map_batchstats', (1, GRID, GRID))
    target = golden(directory, 'train_target_256', (1, 1, 4 * GRID, 4 * GRID))
    dice, ce, total = sam_loss(net(emb, att)[0], target)
    total.backward()
    out['trainLoss'] = {'dice': dice.item(), 'ce': ce.item(), 'total': total.item(),
                        'inputs': 'image_embedding, attention_map_batchstats, train_target_256'}
    out['gradParams'] = sorted(n for n, p in net.named_parameters() if p.grad is not None)
    out['grad'] = {GRAD_KEY: dict(net.named_parameters())[GRAD_KEY].grad.flatten().tolist()}
    print(json.dumps(out))


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--check':
        check(sys.argv[2])
    elif len(sys.argv) in (4, 5):
        timing(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) == 5 else None)
    else:
        raise SystemExit(__doc__)
