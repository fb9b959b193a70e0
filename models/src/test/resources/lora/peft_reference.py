#!/usr/bin/env python3
"""PyTorch reference for LoraAdaptersTorchTest: PEFT's LoRA layer written out in torch modules.

Reads an adapter folder (adapter_config.json + adapter_model.safetensors, parsed by hand so neither
`peft` nor `safetensors` is needed) and inputs.safetensors (x, base weight/bias, dropout mask, loss
weights), builds PEFT's layer as peft.tuners.lora.layer.Linear does (lora_A = Linear(in, r),
lora_B = Linear(r, out), no bias, scaling = lora_alpha / r, dropout applied to x before lora_A),
computes sum(R * y^2) in float64 and prints y and the gradients of A and B, plus
kaiming_uniform_(a=sqrt(5))'s bound for some fan-ins, as one JSON line.
"""
import json
import math
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64}


def load_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(blob[base + begin:base + end]), dtype=DTYPES[info["dtype"]])
        tensors[name] = t.reshape(info["shape"])
    return tensors


def kaiming_bound(fan_in):
    # What kaiming_uniform_ computes, read back from torch's own helpers.
    w = torch.empty(1, fan_in)
    fan, _ = torch.nn.init._calculate_fan_in_and_fan_out(w)
    gain = torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    return gain * math.sqrt(3.0 / fan)


def main():
    adapter_dir, inputs_path, linear = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(adapter_dir + "/adapter_config.json") as f:
        config = json.load(f)
    assert config["peft_type"] == "LORA", config
    adapter = load_safetensors(adapter_dir + "/adapter_model.safetensors")
    inputs = load_safetensors(inputs_path)
    r = config["r"]
    scaling = config["lora_alpha"] / r
    key = "base_model.model." + linear
    a_w = adapter[key + ".lora_A.weight"].double()
    b_w = adapter[key + ".lora_B.weight"].double()
    w = inputs["w"]
    out_features, in_features = w.shape
    base = torch.nn.Linear(in_features, out_features, bias=True).double()
    lora_a = torch.nn.Linear(in_features, r, bias=False).double()
    lora_b = torch.nn.Linear(r, out_features, bias=False).double()
    with torch.no_grad():
        base.weight.copy_(w)
        base.bias.copy_(inputs["b"])
        lora_a.weight.copy_(a_w)
        lora_b.weight.copy_(b_w)
    base.requires_grad_(False)  # the frozen base
    x = inputs["x"]
    dropped = x * inputs["mask"]  # nn.Dropout with its mask drawn on the Java side
    y = base(x) + lora_b(lora_a(dropped)) * scaling
    loss = (inputs["weights"] * y * y).sum()
    loss.backward()
    print(json.dumps({
        "y": y.detach().reshape(-1).tolist(),
        "grad_A": lora_a.weight.grad.reshape(-1).tolist(),
        "grad_B": lora_b.weight.grad.reshape(-1).tolist(),
        "base_grad": base.weight.grad is not None,
        "bounds": {str(n): kaiming_bound(n) for n in (1, 6, 64, 4096)},
    }))


if __name__ == "__main__":
    main()
