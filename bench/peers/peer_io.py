"""What every PyTorch peer of `bin/omnispark bench train` shares: reading our safetensors exports and
reporting its own peak memory."""
import json
import resource
import struct

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
