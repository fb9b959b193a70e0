"""Qwen3-MoE / Qwen2-MoE forward and load-balancing loss in PyTorch, written from the transformers
(4.51) modelling code: Qwen*MoeSparseMoeBlock (softmax in float, topk, optional renormalisation, a
loop over experts with index_add_, the shared expert with its sigmoid gate) and
load_balancing_loss_func with an attention mask. Float64 throughout. Packed rows: attention is causal
inside a document (doc ids), as the family's document mask.

Usage: python3 transformers_reference.py <hf folder> <rows.json> <out.json>
rows.json: {"input_ids": [[...]], "position_ids": [[...]], "doc_ids": [[...]]}
out.json: {"logits": [rows][seq][vocab], "aux": float}
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        start, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + start:base + end]), dtype=torch.float32)
        tensors[name] = t.reshape(info["shape"]).double()
    return tensors


def rms_norm(x, w, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def mlp(x, gate, up, down):
    return F.linear(F.silu(F.linear(x, gate)) * F.linear(x, up), down)


def main():
    folder, rows_path, out_path = sys.argv[1:4]
    c = json.load(open(folder + "/config.json"))
    w = read_safetensors(folder + "/model.safetensors")
    rows = json.load(open(rows_path))
    ids = torch.tensor(rows["input_ids"])
    pos = torch.tensor(rows["position_ids"])
    doc = torch.tensor(rows["doc_ids"])
    b, s = ids.shape
    qwen2 = c["model_type"] == "qwen2_moe"
    nh, nkv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    eps = c["rms_norm_eps"]
    E, top_k = c["num_experts"], c["num_experts_per_tok"]
    bias = c.get("qkv_bias", True) if qwen2 else c.get("attention_bias", False)

    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = pos[..., None].double() * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]
    causal = torch.tril(torch.ones(s, s, dtype=torch.bool))
    allowed = causal[None] & (doc[:, :, None] == doc[:, None, :])  # [b, s, s]

    x = w["model.embed_tokens.weight"][ids]
    router_logits = []
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        lin = lambda name, t, n: F.linear(t, w[p + "self_attn." + name + ".weight"],
                                          w[p + "self_attn." + name + ".bias"] if bias else None).view(b, s, n, hd)
        q, k, v = lin("q_proj", h, nh), lin("k_proj", h, nkv), lin("v_proj", h, nkv)
        if not qwen2:
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        scores = q @ k.transpose(-1, -2) / hd ** 0.5
        scores = scores.masked_fill(~allowed[:, None], float("-inf"))
        attn = torch.softmax(scores, dim=-1) @ v
        o_bias = w.get(p + "self_attn.o_proj.bias") if (not qwen2 and bias) else None
        x = x + F.linear(attn.transpose(1, 2).reshape(b, s, nh * hd), w[p + "self_attn.o_proj.weight"], o_bias)

        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        sparse = (i not in c["mlp_only_layers"]) and E > 0 and (i + 1) % c["decoder_sparse_step"] == 0
        if not sparse:
            x = x + mlp(h, w[p + "mlp.gate_proj.weight"], w[p + "mlp.up_proj.weight"], w[p + "mlp.down_proj.weight"])
            continue
        hs = h.view(-1, h.shape[-1])
        logits = F.linear(hs, w[p + "mlp.gate.weight"])
        routing_weights = F.softmax(logits, dim=1, dtype=torch.float64)
        routing_weights, selected = torch.topk(routing_weights, top_k, dim=-1)
        if c["norm_topk_prob"]:
            routing_weights /= routing_weights.sum(dim=-1, keepdim=True)
        final = torch.zeros_like(hs)
        expert_mask = F.one_hot(selected, num_classes=E).permute(2, 1, 0)
        for e in range(E):
            idx, top_x = torch.where(expert_mask[e])
            cur = hs[None, top_x].reshape(-1, hs.shape[-1])
            pe = p + "mlp.experts.%d." % e
            out = mlp(cur, w[pe + "gate_proj.weight"], w[pe + "up_proj.weight"], w[pe + "down_proj.weight"])
            final.index_add_(0, top_x, out * routing_weights[top_x, idx, None])
        if qwen2:
            shared = mlp(hs, w[p + "mlp.shared_expert.gate_proj.weight"], w[p + "mlp.shared_expert.up_proj.weight"],
                         w[p + "mlp.shared_expert.down_proj.weight"])
            final = final + torch.sigmoid(F.linear(hs, w[p + "mlp.shared_expert_gate.weight"])) * shared
        x = x + final.view(b, s, -1)
        router_logits.append(logits)

    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if c["tie_word_embeddings"] else w["lm_head.weight"]
    out_logits = F.linear(x, head)

    # load_balancing_loss_func(gate_logits, num_experts, top_k, attention_mask), transformers 4.51
    attention_mask = (doc >= 0).double()
    gate = torch.cat(router_logits, dim=0)
    routing = F.softmax(gate, dim=-1)
    _, sel = torch.topk(routing, top_k, dim=-1)
    em = F.one_hot(sel, E)
    layers = gate.shape[0] // (b * s)
    eam = attention_mask[None, :, :, None, None].expand((layers, b, s, top_k, E)).reshape(-1, top_k, E)
    tokens_per_expert = torch.sum(em.double() * eam, dim=0) / torch.sum(eam, dim=0)
    ram = attention_mask[None, :, :, None].expand((layers, b, s, E)).reshape(-1, E)
    router_prob_per_expert = torch.sum(routing * ram, dim=0) / torch.sum(ram, dim=0)
    aux = torch.sum(tokens_per_expert * router_prob_per_expert.unsqueeze(0)) * E

    json.dump({"logits": out_logits.tolist(), "aux": aux.item()}, open(out_path, "w"))


if __name__ == "__main__":
    main()
