"""Accuracy of DDP training with each gradient exchange: Fashion-MNIST, the MLP of
examples/python/ddp_training.py (784-128-10, 101,770 parameters, one DDP bucket), N Gloo ranks
each training on its own 1/N of the 60,000 training images, batch 64 a rank, SGD lr 0.1, the
same epochs for every method; test accuracy on the 10,000 test images at the end, and the bytes
each rank sent per step (after the hooks' 2 warm-up steps; counted as bench_collective.py
counts them). An experiment, not a test: nothing is asserted.

    PYTHONPATH=python python3 bench/ddp/accuracy_ddp.py --world 4 --seeds 0,1,2 --epochs 2 --json OUT
"""
import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(__file__))
from bench_collective import Counter, make_hook  # noqa: E402

FMNIST = os.environ.get("CO3_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
METHODS = ("fp32", "bf16-hook", "powersgd", "co3-allgather", "co3-rsag", "co3-rsag-e5m2")


def load(split):
    with gzip.open(os.path.join(FMNIST, f"{split}-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(FMNIST, f"{split}-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return ((torch.from_numpy(x.astype(np.float32)) / 255 - 0.286) / 0.353,
            torch.from_numpy(y.astype(np.int64)))


def run(rank, world, method, seed, a, init, out):
    from torch.nn.parallel import DistributedDataParallel as DDP
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    x, y = load("train")
    tx, ty = load("t10k")
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    ddp = DDP(model)
    # fp32 too through a hook (DDP's own all-reduce, in Python, where the bytes are counted)
    opts = argparse.Namespace(format="e5m2" if method.endswith("e5m2") else "fp4",
                              code="histogram", powersgd_rank=a.powersgd_rank)
    state, hook = make_hook(method.replace("-e5m2", ""), opts, dist.group.WORLD)
    ddp.register_comm_hook(state, hook)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    mine = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[rank::world]
    steps_per_epoch = len(mine) // 64
    counter = Counter(world)
    step = 0
    for epoch in range(a.epochs):
        order = mine[torch.randperm(len(mine), generator=torch.Generator().manual_seed(seed * 100 + epoch))]
        for i in range(steps_per_epoch):
            idx = order[i * 64:(i + 1) * 64]
            loss = torch.nn.functional.cross_entropy(ddp(x[idx]), y[idx])
            opt.zero_grad()
            if step == 2:
                counter.__enter__()  # after the warm-up all-reduces
            loss.backward()
            opt.step()
            step += 1
    counter.__exit__()
    if method.startswith("co3"):
        sent = state.sent_bytes / (step - 2)
    else:
        sent = counter.sent / (step - 2)
    with torch.no_grad():
        accuracy = (model(tx).argmax(1) == ty).float().mean().item()
    if rank == 0:
        with open(out, "w") as f:
            json.dump({"method": method, "seed": seed, "world": world, "epochs": a.epochs,
                       "steps": step, "accuracy": accuracy, "bytes_sent_per_step": sent}, f)
    dist.barrier()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--world", type=int, default=4)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--powersgd-rank", type=int, default=2)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    rows = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        for method in a.methods.split(","):
            with tempfile.TemporaryDirectory() as d:
                out = os.path.join(d, "row.json")
                mp.spawn(run, args=(a.world, method, seed, a, os.path.join(d, "init"), out),
                         nprocs=a.world, join=True)
                with open(out) as f:
                    rows.append(json.load(f))
            r = rows[-1]
            print(f"seed {seed} {method:14} accuracy {100 * r['accuracy']:.2f} % "
                  f"sent {r['bytes_sent_per_step']:.0f} B/step", flush=True)
    print(f"\n{a.world} ranks, {a.epochs} epochs, mean ± sd over seeds {a.seeds}:")
    for method in a.methods.split(","):
        acc = [100 * r["accuracy"] for r in rows if r["method"] == method]
        sent = [r["bytes_sent_per_step"] for r in rows if r["method"] == method]
        sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
        print(f"{method:14} {statistics.mean(acc):6.2f} ± {sd:.2f} %   {statistics.mean(sent):10.0f} B/step")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
