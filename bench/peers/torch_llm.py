#!/usr/bin/env python3
"""PyTorch eager reference for `bin/omnispark bench train`.

Builds a Llama / Qwen2 / Qwen3 decoder from a HF folder written by OmniSpark's export (config.json +
model.safetensors, parsed by hand so no `transformers` or `safetensors` package is needed), computes
the mean token loss of the same packed batch (document-aware causal mask, per-document positions),
then times the same training step: one forward and backward over the whole batch, global grad-norm
clipping and AdamW. Prints one JSON line, with the process's peak resident set size.
"""
import argparse
import json
import math
import os

import torch

from peer_io import add_training_args, load_safetensors, train_and_report

def rms_norm(x, w, eps):
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Decoder(torch.nn.Module):
    def __init__(self, cfg, weights):
        super().__init__()
        self.cfg = cfg
        self.p = torch.nn.ParameterDict()
        for name, t in weights.items():
            self.p[name.replace(".", "__")] = torch.nn.Parameter(t.clone())

    def w(self, name):
        key = name.replace(".", "__")
        return self.p[key] if key in self.p else None

    def forward(self, ids, pos, doc, labels):
        c = self.cfg
        nh, nkv = c["num_attention_heads"], c["num_key_value_heads"]
        hd = c.get("head_dim") or c["hidden_size"] // nh
        eps = c["rms_norm_eps"]
        b, t = ids.shape
        x = torch.nn.functional.embedding(ids, self.w("model.embed_tokens.weight"))
        inv = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        ang = pos.double()[..., None] * inv
        ang = torch.cat((ang, ang), -1)
        cos, sin = ang.cos().float()[:, None], ang.sin().float()[:, None]
        causal = torch.arange(t)[:, None] >= torch.arange(t)[None, :]
        allowed = (doc[:, :, None] == doc[:, None, :]) & causal
        mask = ((~allowed).float() * -1e9)[:, None]
        for i in range(c["num_hidden_layers"]):
            L = "model.layers.%d." % i
            h = rms_norm(x, self.w(L + "input_layernorm.weight"), eps)
            lin = torch.nn.functional.linear
            q = lin(h, self.w(L + "self_attn.q_proj.weight"), self.w(L + "self_attn.q_proj.bias")).view(b, t, nh, hd)
            k = lin(h, self.w(L + "self_attn.k_proj.weight"), self.w(L + "self_attn.k_proj.bias")).view(b, t, nkv, hd)
            v = lin(h, self.w(L + "self_attn.v_proj.weight"), self.w(L + "self_attn.v_proj.bias")).view(b, t, nkv, hd)
            if self.w(L + "self_attn.q_norm.weight") is not None:
                q = rms_norm(q, self.w(L + "self_attn.q_norm.weight"), eps)
                k = rms_norm(k, self.w(L + "self_attn.k_norm.weight"), eps)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if nkv != nh:
                k = k.repeat_interleave(nh // nkv, dim=1)
                v = v.repeat_interleave(nh // nkv, dim=1)
            scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + mask
            attn = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, nh * hd)
            x = x + lin(attn, self.w(L + "self_attn.o_proj.weight"), self.w(L + "self_attn.o_proj.bias"))
            m = rms_norm(x, self.w(L + "post_attention_layernorm.weight"), eps)
            gate = torch.nn.functional.silu(lin(m, self.w(L + "mlp.gate_proj.weight")))
            x = x + lin(gate * lin(m, self.w(L + "mlp.up_proj.weight")), self.w(L + "mlp.down_proj.weight"))
        x = rms_norm(x, self.w("model.norm.weight"), eps)
        head = self.w("lm_head.weight")
        logits = torch.nn.functional.linear(x, head if head is not None else self.w("model.embed_tokens.weight"))
        loss_sum = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="sum")
        return loss_sum


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hf", required=True)
    ap.add_argument("--batch", required=True)
    add_training_args(ap)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(os.path.join(a.hf, "config.json")) as f:
        cfg = json.load(f)
    weights = load_safetensors(os.path.join(a.hf, "model.safetensors"))
    with open(a.batch) as f:
        batch = json.load(f)
    ids = torch.tensor(batch["input_ids"], dtype=torch.long)
    labels = torch.tensor(batch["labels"], dtype=torch.long)
    pos = torch.tensor(batch["position_ids"], dtype=torch.long)
    doc = torch.tensor(batch["doc_ids"], dtype=torch.long)
    n_tokens = int((labels != -100).sum())

    model = Decoder(cfg, weights)
    with torch.no_grad():
        loss = float(model(ids, pos, doc, labels)) / n_tokens
    train_and_report(model.parameters(), lambda: model(ids, pos, doc, labels) / n_tokens, a, loss, ids.numel())

if __name__ == "__main__":
    main()
