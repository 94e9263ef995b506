"""Data-parallel training with DDP and the co3 communication hook, two Gloo ranks on this
machine (use torchrun and your own init on a cluster). Prints the loss and what the hook sent.

    PYTHONPATH=python python examples/python/ddp_training.py --steps 200
"""
import argparse
import gzip
import os
import tempfile

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

import co3

FMNIST = "/usr/share/datasets/fashion-mnist"


def images():
    with gzip.open(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return (torch.from_numpy(x.astype(np.float32)) / 255 - 0.286) / 0.353, torch.from_numpy(y.astype(np.int64))


def run(rank, world, init_method, steps):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world)
    x, y = images()
    torch.manual_seed(0)
    # [example]
    model = DDP(torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)))
    state = co3.CO3HookState(gamma=0.7, format="fp4", code="gennorm")
    model.register_comm_hook(state, co3.ddp_comm_hook)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(1000 + rank)
    for step in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()  # the hook compresses, all-gathers, decodes and averages
        opt.step()
        # [example]
        if rank == 0 and (step % 20 == 0 or step == steps - 1):
            bits = 8 * state.contributed_bytes / max(state.elements, 1)
            print(f"step {step:4d}  loss {loss.item():.4f}  sent {bits:.3f} bits/entry", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--world", type=int, default=2)
    p.add_argument("--init-method", default=None,
                   help="torch.distributed rendezvous, e.g. tcp://HOST:PORT (default: a temporary file)")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        init = a.init_method or f"file://{d}/rendezvous"
        mp.spawn(run, args=(a.world, init, a.steps), nprocs=a.world, join=True)
