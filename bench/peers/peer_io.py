"""What every PyTorch peer of `bin/omnispark bench train` shares: reading our safetensors exports and
reporting its own peak memory."""
import json
import resource
import statistics
import struct
import time

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "F64": torch.float64, "BF16": torch.bfloat16,
          "I64": torch.int64}


def load_safetensors(path):
    """Every tensor of a safetensors file, as float32."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(blob[base + start:base + end]), dtype=DTYPES[info["dtype"]])
        tensors[name] = t.reshape(info["shape"]).float()
    return tensors


def peak_rss_bytes():
    """This process's own peak resident set (VmHWM), as the JVM side reports its own.

    Not ru_maxrss: Linux carries the parent's peak across fork and exec, so a peer started by a JVM
    bigger than itself would report the JVM's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def add_training_args(ap):
    """The options every peer takes from the bench: threads, step counts and the optimizer's settings."""
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--betas", default="0.9,0.999")
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--max-grad-norm", type=float, default=1.0)


def train_and_report(params, loss_fn, a, first_loss, tokens):
    """AdamW as the bench's optimizer (decay on matrices only), clipped, for a.warmup + a.steps steps of
    loss_fn().backward(); prints the peer's JSON line with the median timed step."""
    params = list(params)
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    b1, b2 = (float(x) for x in a.betas.split(","))
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(b1, b2), eps=a.eps)
    times = []
    for i in range(a.warmup + a.steps):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        torch.nn.utils.clip_grad_norm_(params, a.max_grad_norm)
        opt.step()
        if i >= a.warmup:
            times.append((time.perf_counter() - start) * 1000)
    step_ms = statistics.median(times)
    print(json.dumps({"impl": "pytorch-eager", "torch": torch.__version__, "threads": a.threads, "loss": first_loss,
                      "tokens_per_s": tokens / (step_ms / 1000), "step_ms": step_ms,
                      "peak_rss_bytes": peak_rss_bytes()}))
