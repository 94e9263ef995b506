"""Mem-AOP-GD from Python: Linear(784, 10) on Fashion-MNIST by exact SGD and by co3.AopLinear
(top-K with and without memory), the same initial weights and batches for each; prints the test
accuracy of each. The full experiment, with every policy, seeds and the authors' set-up, is the
C++ app co3-aop (docs/AOP.md).

    PYTHONPATH=python python examples/python/aop_training.py --steps 300 --k 32
"""
import argparse
import gzip
import os

import numpy as np
import torch

import co3

FMNIST = os.environ.get("CO3_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def split(prefix):
    with gzip.open(os.path.join(FMNIST, f"{prefix}-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(FMNIST, f"{prefix}-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    x = (torch.from_numpy(x.astype(np.float32)) / 255 - 0.2860) / 0.3530
    return x, torch.from_numpy(y.astype(np.int64))


def train(layer, x, y, steps, batch, lr, seed):
    """Plain SGD with lr = η: for AopLinear it applies Mem-AOP-GD's step ΔW exactly."""
    opt = torch.optim.SGD(layer.parameters(), lr=lr)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    layer.train()
    per_epoch = len(x) // batch  # the last partial batch dropped: the memory needs D rows
    for step in range(steps):
        idx = order[(step % per_epoch) * batch:][:batch]
        loss = torch.nn.functional.cross_entropy(layer(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def accuracy(layer, x, y):
    layer.eval()
    with torch.no_grad():
        return (layer(x).argmax(1) == y).float().mean().item()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    (x, y), (tx, ty) = split("train"), split("t10k")

    results = {}
    for name, memory in (("exact SGD", None), ("top-K, memory", True), ("top-K, no memory", False)):
        torch.manual_seed(a.seed)  # the same initial weights for every method
        # [example]
        if memory is None:
            layer = torch.nn.Linear(784, 10)
        else:
            layer = co3.AopLinear(784, 10, k=a.k, policy="topk", memory=memory, lr=a.lr,
                                  seed=a.seed)
        loss = train(layer, x, y, a.steps, a.batch, a.lr, a.seed)
        # [example]
        results[name] = accuracy(layer, tx, ty)
        print(f"{name:17s} K = {a.k if memory is not None else a.batch:2d}  last loss "
              f"{loss:.4f}  test accuracy {100 * results[name]:.2f}%", flush=True)
    return results


if __name__ == "__main__":
    main()
