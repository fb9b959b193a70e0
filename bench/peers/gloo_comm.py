#!/usr/bin/python3
"""The gloo counterpart of ai.omnispark.parallel.comm.CommBench.

PyTorch's torch.distributed with the gloo backend on loopback, one process per rank
(torch.multiprocessing spawn), float32 buffers, the same ops, sizes, timing (mean of --iters after
--warmup and a barrier, the slowest rank's) and JSON line as CommBench:
{"transport":"gloo","world":..,"op":..,"bytes":..,"time_ms":..,"algbw_GBps":..,"busbw_GBps":..}
with nccl-tests' bandwidths (algbw = bytes/time; busbw = algbw * 2(n-1)/n for all_reduce,
* (n-1)/n for the others; GB = 1e9 bytes).

gloo in Debian's python3-torch 1.13 has no reduce_scatter and no all_to_all, so they are emulated
the way a user would:
  reduce_scatter = dist.all_reduce of a copy of the whole input, then copy out this rank's slice;
  all_to_all     = pairwise exchange: for k = 1..n-1, isend block (rank+k) to rank+k and irecv
                   block (rank-k) from rank-k, all posted at once, then wait for all; the own block
                   is a local copy.

usage: gloo_comm.py [--world 2,4] [--op all_reduce,all_gather,reduce_scatter,all_to_all]
                    [--sizes 64M] [--warmup 2] [--iters 5]
"""
import argparse
import json
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


OPS = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")


def parse_size(s):
    s = s.strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1], 1)
    return int(s[:-1] if mult > 1 else s) * mult


def effective_bytes(op, world, nbytes):
    """As CommBench: whole float32 elements, for the split ops whole blocks per rank."""
    elems = nbytes // 4
    if op != "all_reduce":
        elems = elems // world * world
    return elems * 4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank, world, port, op, nbytes, warmup, iters, out):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    elems = nbytes // 4
    per = elems // world
    if op == "all_reduce":
        a = torch.ones(elems)
    elif op == "all_gather":
        a = torch.ones(per)
        b = torch.zeros(per * world)
        outs = list(b.chunk(world))
    elif op in ("reduce_scatter", "all_to_all"):
        a = torch.ones(per * world)
        b = torch.zeros(per if op == "reduce_scatter" else per * world)

    def once():
        if op == "all_reduce":
            dist.all_reduce(a)
        elif op == "all_gather":
            dist.all_gather(outs, a)
        elif op == "reduce_scatter":
            t = a.clone()
            dist.all_reduce(t)
            b.copy_(t[rank * per:(rank + 1) * per])
        else:
            reqs = []
            for k in range(1, world):
                to, frm = (rank + k) % world, (rank - k) % world
                reqs.append(dist.isend(a[to * per:(to + 1) * per], to))
                reqs.append(dist.irecv(b[frm * per:(frm + 1) * per], frm))
            b[rank * per:(rank + 1) * per].copy_(a[rank * per:(rank + 1) * per])
            for r in reqs:
                r.wait()

    for _ in range(warmup):
        once()
    dist.barrier()
    start = time.perf_counter()
    for _ in range(iters):
        once()
    ms = (time.perf_counter() - start) * 1e3 / iters
    out[rank] = ms
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--world", default="2,4")
    p.add_argument("--op", "--ops", dest="ops", default=",".join(OPS))
    p.add_argument("--sizes", default="64M")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    a = p.parse_args()
    ops = [o.strip() for o in a.ops.split(",")]
    for o in ops:
        if o not in OPS:
            p.error("--op must be one of %s, got %r" % (", ".join(OPS), o))
    for w in [int(x) for x in a.world.split(",")]:
        for op in ops:
            for s in a.sizes.split(","):
                nbytes = effective_bytes(op, w, parse_size(s))
                out = mp.Manager().dict()
                mp.spawn(worker, args=(w, free_port(), op, nbytes, a.warmup, a.iters, out), nprocs=w)
                ms = max(out.values())
                factor = 2.0 * (w - 1) / w if op == "all_reduce" else (w - 1) / w
                algbw = nbytes / (ms * 1e-3) / 1e9
                print(json.dumps({"transport": "gloo", "world": w, "op": op, "bytes": nbytes,
                                  "time_ms": round(ms, 3), "algbw_GBps": round(algbw, 4),
                                  "busbw_GBps": round(algbw * factor, 4)},
                                 separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
