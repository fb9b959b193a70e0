"""Qwen2-VL forward in PyTorch, written from transformers' (4.51) modeling_qwen2_vl.py: the vision
tower (Conv3d patch embedding, rot_pos_emb from grid_thw, eager VisionAttention with the cu_seqlens
block mask, quick_gelu MLP), PatchMerger (LayerNorm, exact GELU), masked_scatter of the image and
video embeddings into their placeholders, get_rope_index, Qwen2VLRotaryEmbedding with
apply_multimodal_rotary_pos_emb, and the Qwen2 decoder. Float64 throughout. A packed row is run as
its documents, each a sequence of its own (what packing stands for), with the media of the row
handed out to the documents in placeholder order.

Usage: python3 transformers_reference.py <hf folder> <inputs.json> <out.json>
inputs.json: {"input_ids": [[...]], "doc_ids": [[...]], "pixel_values": [[...]], "grid_thw": [[t, h, w]]}
  (media in placeholder order across the rows; ids of padding (doc -1) are ignored)
out.json: {"logits": [rows][seq][vocab] (zeros on padding), "positions": [rows][3][seq]}
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


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def rot_pos_emb(grid_thw, head_dim, m):
    dim = head_dim // 2
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    pos_ids = []
    for t, h, w in grid_thw.tolist():
        hpos = torch.arange(h).unsqueeze(1).expand(-1, w).reshape(h // m, m, w // m, m).permute(0, 2, 1, 3).flatten()
        wpos = torch.arange(w).unsqueeze(0).expand(h, -1).reshape(h // m, m, w // m, m).permute(0, 2, 1, 3).flatten()
        pos_ids.append(torch.stack([hpos, wpos], dim=-1).repeat(t, 1))
    pos_ids = torch.cat(pos_ids, dim=0)
    max_grid = int(grid_thw[:, 1:].max())
    full = torch.outer(torch.arange(max_grid, dtype=torch.float64), inv_freq)
    return full[pos_ids].flatten(1)


def visual(w, vc, pixel_values, grid_thw):
    e, heads, m = vc["embed_dim"], vc["num_heads"], vc["spatial_merge_size"]
    c, tp, p = vc["in_channels"], vc["temporal_patch_size"], vc["patch_size"]
    x = pixel_values.view(-1, c, tp, p, p)
    x = F.conv3d(x, w["visual.patch_embed.proj.weight"], stride=(tp, p, p)).view(-1, e)
    rope = rot_pos_emb(grid_thw, e // heads, m)
    emb = torch.cat((rope, rope), dim=-1)
    cos, sin = emb.cos().unsqueeze(-2), emb.sin().unsqueeze(-2)
    cu = torch.repeat_interleave(grid_thw[:, 1] * grid_thw[:, 2], grid_thw[:, 0]).cumsum(0)
    cu = F.pad(cu, (1, 0), value=0)
    n = x.shape[0]
    mask = torch.full([1, n, n], torch.finfo(torch.float64).min, dtype=torch.float64)
    for i in range(1, len(cu)):
        mask[..., cu[i - 1]:cu[i], cu[i - 1]:cu[i]] = 0
    hd = e // heads
    for i in range(vc["depth"]):
        pre = "visual.blocks.%d." % i
        h = F.layer_norm(x, (e,), w[pre + "norm1.weight"], w[pre + "norm1.bias"], 1e-6)
        q, k, v = F.linear(h, w[pre + "attn.qkv.weight"], w[pre + "attn.qkv.bias"]).reshape(n, 3, heads, -1) \
            .permute(1, 0, 2, 3).unbind(0)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        a = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(hd) + mask
        a = F.softmax(a, dim=-1)
        o = torch.matmul(a, v).transpose(0, 1).reshape(n, -1)
        x = x + F.linear(o, w[pre + "attn.proj.weight"], w[pre + "attn.proj.bias"])
        h = F.layer_norm(x, (e,), w[pre + "norm2.weight"], w[pre + "norm2.bias"], 1e-6)
        h = quick_gelu(F.linear(h, w[pre + "mlp.fc1.weight"], w[pre + "mlp.fc1.bias"]))
        x = x + F.linear(h, w[pre + "mlp.fc2.weight"], w[pre + "mlp.fc2.bias"])
    x = F.layer_norm(x, (e,), w["visual.merger.ln_q.weight"], w["visual.merger.ln_q.bias"], 1e-6)
    x = x.view(-1, e * m * m)
    x = F.gelu(F.linear(x, w["visual.merger.mlp.0.weight"], w["visual.merger.mlp.0.bias"]))
    return F.linear(x, w["visual.merger.mlp.2.weight"], w["visual.merger.mlp.2.bias"])


def get_rope_index(tokens, c, image_grids, video_grids):
    m = c["vision_config"]["spatial_merge_size"]
    image_id, video_id = c["image_token_id"], c["video_token_id"]
    ids = torch.tensor(tokens)
    starts = torch.argwhere(ids == c["vision_start_token_id"]).squeeze(1)
    vision_tokens = ids[starts + 1]
    image_nums = int((vision_tokens == image_id).sum())
    video_nums = int((vision_tokens == video_id).sum())
    parts, st, ii, vi = [], 0, 0, 0
    remain_images, remain_videos = image_nums, video_nums
    for _ in range(image_nums + video_nums):
        ed_image = tokens.index(image_id, st) if image_id in tokens and remain_images > 0 else len(tokens) + 1
        ed_video = tokens.index(video_id, st) if video_id in tokens and remain_videos > 0 else len(tokens) + 1
        if ed_image < ed_video:
            t, h, w = image_grids[ii]
            ii, remain_images, ed = ii + 1, remain_images - 1, ed_image
        else:
            t, h, w = video_grids[vi]
            vi, remain_videos, ed = vi + 1, remain_videos - 1, ed_video
        gt, gh, gw = t, h // m, w // m
        text_len = ed - st
        st_idx = parts[-1].max() + 1 if parts else 0
        parts.append(torch.arange(text_len).view(1, -1).expand(3, -1) + st_idx)
        t_index = torch.arange(gt).view(-1, 1).expand(-1, gh * gw).flatten()
        h_index = torch.arange(gh).view(1, -1, 1).expand(gt, -1, gw).flatten()
        w_index = torch.arange(gw).view(1, 1, -1).expand(gt, gh, -1).flatten()
        parts.append(torch.stack([t_index, h_index, w_index]) + text_len + st_idx)
        st = ed + gt * gh * gw
    if st < len(tokens):
        st_idx = parts[-1].max() + 1 if parts else 0
        parts.append(torch.arange(len(tokens) - st).view(1, -1).expand(3, -1) + st_idx)
    return torch.cat(parts, dim=1).reshape(3, -1)


def language_model(w, c, embeds, positions):
    s = embeds.shape[0]
    nh, nkv = c["num_attention_heads"], c["num_key_value_heads"]
    hd = c["hidden_size"] // nh
    eps = c["rms_norm_eps"]
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = positions.double().unsqueeze(-1) * inv_freq  # [3, S, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    section = c["rope_scaling"]["mrope_section"] * 2
    cos = torch.cat([t[i % 3] for i, t in enumerate(emb.cos().split(section, dim=-1))], dim=-1).unsqueeze(0)
    sin = torch.cat([t[i % 3] for i, t in enumerate(emb.sin().split(section, dim=-1))], dim=-1).unsqueeze(0)
    causal = torch.full((s, s), torch.finfo(torch.float64).min, dtype=torch.float64).triu(1)
    x = embeds
    for i in range(c["num_hidden_layers"]):
        pre = "model.layers.%d." % i
        h = rms_norm(x, w[pre + "input_layernorm.weight"], eps)
        q = F.linear(h, w[pre + "self_attn.q_proj.weight"], w[pre + "self_attn.q_proj.bias"]).view(s, nh, hd).transpose(0, 1)
        k = F.linear(h, w[pre + "self_attn.k_proj.weight"], w[pre + "self_attn.k_proj.bias"]).view(s, nkv, hd).transpose(0, 1)
        v = F.linear(h, w[pre + "self_attn.v_proj.weight"], w[pre + "self_attn.v_proj.bias"]).view(s, nkv, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=0)
        v = v.repeat_interleave(nh // nkv, dim=0)
        a = F.softmax(torch.matmul(q, k.transpose(1, 2)) / math.sqrt(hd) + causal, dim=-1)
        o = torch.matmul(a, v).transpose(0, 1).reshape(s, nh * hd)
        x = x + F.linear(o, w[pre + "self_attn.o_proj.weight"])
        h = rms_norm(x, w[pre + "post_attention_layernorm.weight"], eps)
        h = F.linear(F.silu(F.linear(h, w[pre + "mlp.gate_proj.weight"])) * F.linear(h, w[pre + "mlp.up_proj.weight"]),
                     w[pre + "mlp.down_proj.weight"])
        x = x + h
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else w["lm_head.weight"]
    return F.linear(x, head)


def main():
    folder, inputs_path, out_path = sys.argv[1:4]
    c = json.load(open(folder + "/config.json"))
    w = read_safetensors(folder + "/model.safetensors")
    inputs = json.load(open(inputs_path))
    vc = c["vision_config"]
    m = vc["spatial_merge_size"]
    grids = torch.tensor(inputs["grid_thw"])
    tokens_of_media = visual(w, vc, torch.tensor(inputs["pixel_values"], dtype=torch.float64), grids)
    per_media = torch.split(tokens_of_media, [int(t * h * w // (m * m)) for t, h, w in grids.tolist()])
    image_id, video_id = c["image_token_id"], c["video_token_id"]
    vocab = c["vocab_size"]
    media = 0
    logits_out, positions_out = [], []
    for ids, docs in zip(inputs["input_ids"], inputs["doc_ids"]):
        seq = len(ids)
        row_logits = torch.zeros(seq, vocab, dtype=torch.float64)
        row_positions = torch.zeros(3, seq, dtype=torch.long)
        for d in sorted(set(x for x in docs if x >= 0)):
            at = [i for i in range(seq) if docs[i] == d]
            tokens = [ids[i] for i in at]
            image_grids, video_grids, image_embeds, video_embeds = [], [], [], []
            i = 0
            while i < len(tokens):
                if tokens[i] in (image_id, video_id):
                    kind = tokens[i]
                    t, h, ww = grids[media].tolist()
                    (image_grids if kind == image_id else video_grids).append((t, h, ww))
                    (image_embeds if kind == image_id else video_embeds).append(per_media[media])
                    i += t * h * ww // (m * m)
                    media += 1
                else:
                    i += 1
            ids_t = torch.tensor(tokens)
            embeds = F.embedding(ids_t, w["model.embed_tokens.weight"])
            if image_embeds:
                mask = (ids_t == image_id).unsqueeze(-1).expand_as(embeds)
                embeds = embeds.masked_scatter(mask, torch.cat(image_embeds))
            if video_embeds:
                mask = (ids_t == video_id).unsqueeze(-1).expand_as(embeds)
                embeds = embeds.masked_scatter(mask, torch.cat(video_embeds))
            positions = get_rope_index(tokens, c, image_grids, video_grids)
            row_logits[at] = language_model(w, c, embeds, positions)
            row_positions[:, at] = positions
        logits_out.append(row_logits.tolist())
        positions_out.append(row_positions.tolist())
    assert media == len(per_media), "media left unused: %d of %d" % (media, len(per_media))
    json.dump({"logits": logits_out, "positions": positions_out}, open(out_path, "w"))


if __name__ == "__main__":
    main()
