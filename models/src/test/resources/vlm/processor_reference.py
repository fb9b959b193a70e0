"""Qwen2-VL image processor's pixel_values from uint8 THWC pixels, written from transformers'
documented steps (Qwen2VLImageProcessor._preprocess, after its resize), with torch only:

  rescale: float64(pixel) * (1/255), cast to float32
  normalize: (x - image_mean) / image_std in float32, CLIP mean/std
  to (T, C, H, W); repeat the last frame until T is a multiple of temporal_patch_size
  reshape (grid_t, tp, C, gh/m, m, p, gw/m, m, p), permute (0, 3, 6, 4, 7, 2, 1, 5, 8),
  reshape (grid_t * gh * gw, C * tp * p * p)

usage: processor_reference.py IN.u8 T H W C p tp m OUT.f32   (raw little-endian float32 out)
"""
import sys

import torch

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def main():
    src, t, h, w, c, p, tp, m, dst = sys.argv[1:]
    t, h, w, c, p, tp, m = (int(v) for v in (t, h, w, c, p, tp, m))
    raw = open(src, "rb").read()
    assert len(raw) == t * h * w * c, (len(raw), t, h, w, c)
    pixels = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(t, h, w, c)
    x = (pixels.to(torch.float64) * (1.0 / 255.0)).to(torch.float32)
    mean = torch.tensor(MEAN[:c], dtype=torch.float32)
    std = torch.tensor(STD[:c], dtype=torch.float32)
    x = (x - mean) / std
    x = x.permute(0, 3, 1, 2)  # T, C, H, W
    if x.shape[0] % tp != 0:
        last = x[-1:].repeat(tp - x.shape[0] % tp, 1, 1, 1)
        x = torch.cat([x, last], dim=0)
    grid_t, grid_h, grid_w = x.shape[0] // tp, h // p, w // p
    x = x.reshape(grid_t, tp, c, grid_h // m, m, p, grid_w // m, m, p)
    x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    x = x.reshape(grid_t * grid_h * grid_w, c * tp * p * p).contiguous()
    with open(dst, "wb") as f:
        f.write(x.numpy().astype("<f4").tobytes())


if __name__ == "__main__":
    main()
