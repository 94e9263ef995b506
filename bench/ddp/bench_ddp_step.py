"""A DDP training step with the co3 hook against DDP's default all-reduce: ResNet-18 (adapted to
28×28×1) on Fashion-MNIST batches, time per step (median of CUDA-event or wall timings) and the
bytes each rank sends per step. A benchmark, not a test: it prints a table and, with --json, a
file; nothing is asserted.

    PYTHONPATH=python python3 bench/ddp/bench_ddp_step.py --device cuda --backend nccl --world 1
    PYTHONPATH=python python3 bench/ddp/bench_ddp_step.py --device cpu --backend gloo --world 2 --steps 6

One GPU cannot hold two NCCL ranks: on one GPU use NCCL at world size 1 (the codec's cost with
a trivial exchange) or Gloo with CUDA buckets across processes that share the GPU.
"""
import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))

FMNIST = os.environ.get("CO3_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"


def fashion_mnist(n):
    """The first n training images, normalised, or Gaussian stand-ins where the data set is absent
    (the GPU machine has no Debian packages); the row says which it used."""
    path = os.path.join(FMNIST, "train-images-idx3-ubyte.gz")
    if os.path.exists(path):
        with gzip.open(path) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
        with gzip.open(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz")) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
        x = (torch.from_numpy(x.astype(np.float32)) / 255 - 0.286) / 0.353
        return x, torch.from_numpy(y.astype(np.int64)), "fashion-mnist"
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g), "synthetic"


class Block(torch.nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = torch.nn.BatchNorm2d(cout)
        self.c2 = torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = torch.nn.BatchNorm2d(cout)
        self.skip = torch.nn.Sequential()
        if stride != 1 or cin != cout:
            self.skip = torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            torch.nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(self.b2(self.c2(y)) + self.skip(x))


def resnet18():
    """ResNet-18 (11.2M parameters) with a 3×3 stem and no max-pool for 28×28×1 inputs, as
    co3-train's (host/apps/train/model.cpp)."""
    layers = [torch.nn.Conv2d(1, 64, 3, 1, 1, bias=False), torch.nn.BatchNorm2d(64), torch.nn.ReLU()]
    cin = 64
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(512, 10)]
    return torch.nn.Sequential(*layers)


def run(rank, world, a, init, out):
    import co3
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    dist.init_process_group(a.backend, init_method=init, rank=rank, world_size=world)
    device = torch.device(a.device)
    x, y, source = fashion_mnist(a.batch * 8)
    rows = []
    for method in a.methods:
        torch.manual_seed(0)
        model = resnet18().to(device)
        ddp = DDP(model, device_ids=[0] if device.type == "cuda" else None)
        state = None
        if method != "allreduce":
            state = co3.CO3HookState(gamma=0.7, format=method, start_iter=2)
            ddp.register_comm_hook(state, co3.ddp_comm_hook)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
        times = []
        for step in range(a.warmup + a.steps):
            lo = ((step * world + rank) * a.batch) % (len(x) - a.batch)
            xb, yb = x[lo:lo + a.batch].to(device), y[lo:lo + a.batch].to(device)
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            loss = torch.nn.functional.cross_entropy(ddp(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if step >= a.warmup:
                times.append(time.perf_counter() - t0)
        entries = sum(p.numel() for p in model.parameters())
        if state is None:
            sent = 4 * entries  # a ring all-reduce moves about 2(W−1)/W of this per rank
        else:
            sent = state.contributed_bytes / max(1, state.iter - state.start_iter)
        rows.append(dict(method=method, rank=rank, world=world, backend=a.backend, device=a.device,
                         data=source, batch=a.batch, entries=entries,
                         step_ms_median=1e3 * statistics.median(times),
                         step_ms_min=1e3 * min(times), steps=len(times),
                         bytes_per_step=sent, bits_per_entry=8 * sent / entries,
                         final_loss=loss.item()))
    if rank == 0:
        with open(out, "w") as f:
            json.dump(rows, f)
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--backend", default=None, help="nccl (CUDA, world 1 on one GPU) or gloo")
    p.add_argument("--world", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=20, help="timed steps per method")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps (≥ the hook's start_iter)")
    p.add_argument("--methods", default="allreduce,fp4,e5m2")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    a.methods = a.methods.split(",")
    a.backend = a.backend or ("nccl" if a.device == "cuda" else "gloo")
    if a.warmup < 3:
        p.error("--warmup must be at least 3: the hook all-reduces plainly for its first 2 steps")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "rows.json")
        mp.spawn(run, args=(a.world, a, f"file://{d}/rendezvous", out), nprocs=a.world, join=True)
        with open(out) as f:
            rows = json.load(f)
    print(f"DDP step, ResNet-18 ({rows[0]['entries']:,} parameters), batch {a.batch} per rank, "
          f"{a.world} rank(s), {a.backend} on {a.device}, {rows[0]['data']} data, "
          f"median of {a.steps} steps")
    print(f"{'method':<10} {'ms/step':>9} {'min ms':>8} {'bytes/step':>12} {'bits/entry':>10}")
    for r in rows:
        print(f"{r['method']:<10} {r['step_ms_median']:9.2f} {r['step_ms_min']:8.2f} "
              f"{r['bytes_per_step']:12.0f} {r['bits_per_entry']:10.3f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
