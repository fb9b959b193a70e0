#!/usr/bin/env python3
"""PyTorch eager reference for `bin/omnispark bench train` on the wan family (WanTransformer3DModel).

Builds the DiT from a diffusers folder written by OmniSpark's export (config.json +
diffusion_pytorch_model.safetensors, parsed by hand: no diffusers or safetensors package), in float32
with autograd, following diffusers' (0.33) transformer_wan.py as
models/src/test/resources/wan/diffusers_reference.py transcribes it (text-to-video only). The
inputs are the bench's own flow-matching batch (--inputs, a safetensors file: hidden_states = x_t,
timestep, encoder_hidden_states, target = eps - x0, loss_weight), so both sides compute the same
loss: sum over samples of weight * mean squared error, divided by the sample count. Then times the
same training step on that batch: forward, backward, global grad-norm clipping, AdamW. Prints one
JSON line with the process's peak resident set size.

Self-attention runs over query chunks of --attn-chunk rows, each recomputed in the backward
(torch.utils.checkpoint): torch 1.13 has no scaled_dot_product_attention, and whole [S, S] scores
at a 480p-like latent (32760 tokens) would take 4 GiB per head.
"""
import argparse
import json
import math
import os

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from peer_io import add_training_args, load_safetensors, train_and_report


def linear(W, name, x):
    return F.linear(x, W[name + ".weight"], W[name + ".bias"])


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def layer_norm(x, eps, w=None, b=None):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def timesteps_proj(t, dim):
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float64) / half
    emb = t[:, None].double() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    return torch.cat([emb[:, half:], emb[:, :half]], dim=-1).float()


def rope_freqs(cfg, f, h, w):
    hd = cfg["attention_head_dim"]
    max_len = cfg["rope_max_seq_len"]
    h_dim = w_dim = 2 * (hd // 6)
    t_dim = hd - h_dim - w_dim
    coss, sins = [], []
    for dim in (t_dim, h_dim, w_dim):
        freqs = 1.0 / (10000.0 ** (torch.arange(0, dim, 2, dtype=torch.float64)[: dim // 2] / dim))
        ang = torch.outer(torch.arange(max_len, dtype=torch.float64), freqs)
        coss.append(ang.cos().repeat_interleave(2, dim=1))
        sins.append(ang.sin().repeat_interleave(2, dim=1))
    def grid(tables):
        a = tables[0][:f].view(f, 1, 1, -1).expand(f, h, w, -1)
        b = tables[1][:h].view(1, h, 1, -1).expand(f, h, w, -1)
        c = tables[2][:w].view(1, 1, w, -1).expand(f, h, w, -1)
        return torch.cat([a, b, c], dim=-1).reshape(1, f * h * w, 1, -1).float()
    return grid(coss), grid(sins)


def apply_rotary_emb(x, cos, sin):
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    c = cos[..., 0::2]
    s = sin[..., 1::2]
    return torch.stack([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1).flatten(-2)


def attend(q, k, v):
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return scores.softmax(-1) @ v


def sdpa(q, k, v, chunk):
    # [B, S, heads, hd]; queries in chunks, each recomputed in the backward when grads are on
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    if q.shape[2] <= chunk:
        out = attend(q, k, v)
    else:
        parts = []
        for s in range(0, q.shape[2], chunk):
            qc = q[:, :, s:s + chunk]
            parts.append(checkpoint(attend, qc, k, v) if torch.is_grad_enabled() else attend(qc, k, v))
        out = torch.cat(parts, dim=2)
    return out.transpose(1, 2)


def attention(W, p, cfg, x, context, rope, chunk):
    heads = cfg["num_attention_heads"]
    eps = cfg["eps"]
    q = rms_norm(linear(W, p + "to_q", x), W[p + "norm_q.weight"], eps)
    k = rms_norm(linear(W, p + "to_k", context), W[p + "norm_k.weight"], eps)
    v = linear(W, p + "to_v", context)
    q, k, v = (t.unflatten(2, (heads, -1)) for t in (q, k, v))
    if rope is not None:
        q = apply_rotary_emb(q, *rope)
        k = apply_rotary_emb(k, *rope)
    out = sdpa(q, k, v, chunk)
    return linear(W, p + "to_out.0", out.flatten(2, 3))


def forward(W, cfg, hidden_states, timestep, text, chunk):
    pt, ph, pw = cfg["patch_size"]
    B, C, Fr, H, Wd = hidden_states.shape
    f, h, w = Fr // pt, H // ph, Wd // pw
    rope = rope_freqs(cfg, f, h, w)
    x = F.conv3d(hidden_states, W["patch_embedding.weight"], W["patch_embedding.bias"], stride=(pt, ph, pw))
    x = x.flatten(2).transpose(1, 2)
    ce = "condition_embedder."
    temb = linear(W, ce + "time_embedder.linear_2", F.silu(linear(W, ce + "time_embedder.linear_1",
                                                                   timesteps_proj(timestep, cfg["freq_dim"]))))
    tproj = linear(W, ce + "time_proj", F.silu(temb)).unflatten(1, (6, -1))
    context = linear(W, ce + "text_embedder.linear_2",
                     F.gelu(linear(W, ce + "text_embedder.linear_1", text), approximate="tanh"))
    eps = cfg["eps"]
    for i in range(cfg["num_layers"]):
        p = "blocks.%d." % i
        shift, scale, gate, c_shift, c_scale, c_gate = (W[p + "scale_shift_table"] + tproj).chunk(6, dim=1)
        n = layer_norm(x, eps) * (1 + scale) + shift
        x = x + attention(W, p + "attn1.", cfg, n, n, rope, chunk) * gate
        n = layer_norm(x, eps, W[p + "norm2.weight"], W[p + "norm2.bias"]) if cfg["cross_attn_norm"] else x
        x = x + attention(W, p + "attn2.", cfg, n, context, None, chunk)
        n = layer_norm(x, eps) * (1 + c_scale) + c_shift
        ff = linear(W, p + "ffn.net.2", F.gelu(linear(W, p + "ffn.net.0.proj", n), approximate="tanh"))
        x = x + ff * c_gate
    shift, scale = (W["scale_shift_table"] + temb.unsqueeze(1)).chunk(2, dim=1)
    x = layer_norm(x, eps) * (1 + scale) + shift
    x = linear(W, "proj_out", x)
    x = x.reshape(B, f, h, w, pt, ph, pw, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
    return x.flatten(6, 7).flatten(4, 5).flatten(2, 3)


def flow_loss(W, cfg, inputs, chunk):
    pred = forward(W, cfg, inputs["hidden_states"], inputs["timestep"], inputs["encoder_hidden_states"], chunk)
    per_sample = (pred - inputs["target"]).pow(2).flatten(1).mean(1)
    return (per_sample * inputs["loss_weight"]).sum() / pred.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hf", required=True)
    ap.add_argument("--inputs", required=True)
    add_training_args(ap)
    ap.add_argument("--attn-chunk", type=int, default=2048)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(os.path.join(a.hf, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("_class_name") != "WanTransformer3DModel":
        raise SystemExit("%s is not a WanTransformer3DModel folder" % a.hf)
    if cfg.get("image_dim") or cfg.get("added_kv_proj_dim"):
        raise SystemExit("the wan peer runs text-to-video models only (image_dim / added_kv_proj_dim is set)")
    weights = load_safetensors(os.path.join(a.hf, "diffusion_pytorch_model.safetensors"))
    inputs = load_safetensors(a.inputs)
    params = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(v) for k, v in weights.items()})

    class Named(dict):
        def __missing__(self, key):
            return params[key.replace(".", "__")]

    W = Named()
    with torch.no_grad():
        loss = float(flow_loss(W, cfg, inputs, a.attn_chunk))
    tokens = inputs["hidden_states"].shape[0] * math.prod(
        d // p for d, p in zip(inputs["hidden_states"].shape[2:], cfg["patch_size"]))
    train_and_report(params.values(), lambda: flow_loss(W, cfg, inputs, a.attn_chunk), a, loss, tokens)

if __name__ == "__main__":
    main()
