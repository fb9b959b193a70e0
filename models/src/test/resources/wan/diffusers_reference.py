"""Wan 2.1 DiT forward in PyTorch, written by hand from diffusers' (0.33) transformer_wan.py:
WanTransformer3DModel.forward with WanRotaryPosEmbed, WanTimeTextImageEmbedding (Timesteps with
flip_sin_to_cos, TimestepEmbedding, time_proj, PixArtAlphaTextProjection with tanh-GELU,
WanImageEmbedding), WanTransformerBlock (FP32LayerNorm without affine for norm1/norm3/norm_out,
WanAttention with RMSNorm across heads on q and k, interleaved-pair rotary in attn1, the I2V image
branch of attn2 on add_k_proj/add_v_proj), and the unpatchify. Float64 throughout. The image
tokens and the text are passed separately, which is diffusers' concat-then-split at total - 512
when the text is 512 tokens long.

Usage: python3 diffusers_reference.py <diffusers folder> <inputs.json> <out.json>
inputs.json: {"hidden_states", "timestep", "encoder_hidden_states", "encoder_hidden_states_image" (optional)},
  each {"shape": [...], "data": [row-major values]}: [B, C, F, H, W], [B], [B, L, text_dim], [B, N, image_dim]
out.json: {"shape": [B, out, F, H, W], "sample": [row-major values]}
"""
import json
import math
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


def linear(W, name, x):
    return F.linear(x, W[name + ".weight"], W[name + ".bias"])


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def layer_norm(x, eps, w=None, b=None):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


def timesteps_proj(t, dim):
    # diffusers get_timestep_embedding(flip_sin_to_cos=True, downscale_freq_shift=0, max_period=10000)
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float64) / half
    emb = t[:, None].double() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    return torch.cat([emb[:, half:], emb[:, :half]], dim=-1)


def rope_freqs(cfg, f, h, w):
    # WanRotaryPosEmbed: per axis get_1d_rotary_pos_embed(dim, max_seq_len, theta, use_real=True,
    # repeat_interleave_real=True); h, w dims 2 * (hd // 6), t the rest; [S, hd] cos and sin.
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
    fc = coss[0][:f].view(f, 1, 1, -1).expand(f, h, w, -1)
    hc = coss[1][:h].view(1, h, 1, -1).expand(f, h, w, -1)
    wc = coss[2][:w].view(1, 1, w, -1).expand(f, h, w, -1)
    fs = sins[0][:f].view(f, 1, 1, -1).expand(f, h, w, -1)
    hs = sins[1][:h].view(1, h, 1, -1).expand(f, h, w, -1)
    ws = sins[2][:w].view(1, 1, w, -1).expand(f, h, w, -1)
    cos = torch.cat([fc, hc, wc], dim=-1).reshape(1, f * h * w, 1, -1)
    sin = torch.cat([fs, hs, ws], dim=-1).reshape(1, f * h * w, 1, -1)
    return cos, sin


def apply_rotary_emb(x, cos, sin):
    # x [B, S, heads, hd]; diffusers' Wan apply_rotary_emb on interleaved pairs
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    c = cos[..., 0::2]
    s = sin[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * c - x2 * s
    out[..., 1::2] = x1 * s + x2 * c
    return out


def sdpa(q, k, v):
    # [B, S, heads, hd] -> attention over heads
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return (scores.softmax(-1) @ v).transpose(1, 2)


def attention(W, p, cfg, x, context, rope, image):
    heads = cfg["num_attention_heads"]
    eps = cfg["eps"]
    q = rms_norm(linear(W, p + "to_q", x), W[p + "norm_q.weight"], eps)
    k = rms_norm(linear(W, p + "to_k", context), W[p + "norm_k.weight"], eps)
    v = linear(W, p + "to_v", context)
    q, k, v = (t.unflatten(2, (heads, -1)) for t in (q, k, v))
    if rope is not None:
        q = apply_rotary_emb(q, *rope)
        k = apply_rotary_emb(k, *rope)
    out = sdpa(q, k, v)
    if image is not None:
        ki = rms_norm(linear(W, p + "add_k_proj", image), W[p + "norm_added_k.weight"], eps).unflatten(2, (heads, -1))
        vi = linear(W, p + "add_v_proj", image).unflatten(2, (heads, -1))
        out = out + sdpa(q, ki, vi)
    return linear(W, p + "to_out.0", out.flatten(2, 3))


def forward(W, cfg, hidden_states, timestep, text, image):
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
    context = linear(W, ce + "text_embedder.linear_2", gelu_tanh(linear(W, ce + "text_embedder.linear_1", text)))
    if image is not None:
        ie = ce + "image_embedder."
        image = layer_norm(image, 1e-5, W[ie + "norm1.weight"], W[ie + "norm1.bias"])
        image = linear(W, ie + "ff.net.2", F.gelu(linear(W, ie + "ff.net.0.proj", image)))
        image = layer_norm(image, 1e-5, W[ie + "norm2.weight"], W[ie + "norm2.bias"])
    eps = cfg["eps"]
    for i in range(cfg["num_layers"]):
        p = "blocks.%d." % i
        shift, scale, gate, c_shift, c_scale, c_gate = (W[p + "scale_shift_table"] + tproj).chunk(6, dim=1)
        n = layer_norm(x, eps) * (1 + scale) + shift
        x = x + attention(W, p + "attn1.", cfg, n, n, rope, None) * gate
        n = layer_norm(x, eps, W[p + "norm2.weight"], W[p + "norm2.bias"]) if cfg["cross_attn_norm"] else x
        x = x + attention(W, p + "attn2.", cfg, n, context, None, image)
        n = layer_norm(x, eps) * (1 + c_scale) + c_shift
        ff = linear(W, p + "ffn.net.2", gelu_tanh(linear(W, p + "ffn.net.0.proj", n)))
        x = x + ff * c_gate
    shift, scale = (W["scale_shift_table"] + temb.unsqueeze(1)).chunk(2, dim=1)
    x = layer_norm(x, eps) * (1 + scale) + shift
    x = linear(W, "proj_out", x)
    x = x.reshape(B, f, h, w, pt, ph, pw, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
    return x.flatten(6, 7).flatten(4, 5).flatten(2, 3)


def main():
    folder, inputs, out = sys.argv[1:4]
    with open(folder + "/config.json") as fh:
        cfg = json.load(fh)
    assert cfg["_class_name"] == "WanTransformer3DModel", cfg["_class_name"]
    W = read_safetensors(folder + "/diffusion_pytorch_model.safetensors")
    with open(inputs) as fh:
        a = json.load(fh)

    def tensor(key):
        if key not in a:
            return None
        return torch.tensor(a[key]["data"], dtype=torch.float64).reshape(a[key]["shape"])

    with torch.no_grad():
        sample = forward(W, cfg, tensor("hidden_states"), tensor("timestep"), tensor("encoder_hidden_states"),
                         tensor("encoder_hidden_states_image"))
    with open(out, "w") as fh:
        json.dump({"shape": list(sample.shape), "sample": sample.flatten().tolist()}, fh)


if __name__ == "__main__":
    main()
