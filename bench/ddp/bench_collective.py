"""One exchange of a real gradient bucket set by each DDP communication algorithm: bytes each rank
sends and receives, and seconds per exchange. A benchmark, not a test: it prints a table and,
with --json, writes one row per (algorithm, world); nothing is asserted.

    PYTHONPATH=python python3 bench/ddp/bench_collective.py --world 4 \\
        --algorithm fp32,bf16-hook,powersgd,co3-allgather,co3-rsag --format fp4 --json OUT

The gradient: shared/data's ResNet-18 gradients (3.5M entries; rank r holds step 0's for even r
and step 120's for odd r), cut like DDP cuts buckets (a first bucket of 1 MiB, then 25 MiB:
here the first 18 parameters, 231,488 entries, and the remaining 3,267,840, the last parameter
cut to the 311 of its 512 output channels that fit), shaped as the ResNet-18 parameters they
belong to (for PowerSGD, which factors matrices). Every algorithm runs
as a DDP communication hook on these buckets, on CPU tensors with Gloo (ranks spawned here), or
CUDA tensors with NCCL (--device cuda, one GPU per rank).

Bytes are counted per collective call at the algorithm's level, exactly, from the sizes passed,
on every rank; a row gives their mean over the ranks (`bytes_sent_per_rank`, and received),
beside the most any rank sent and rank 0's (rsag's ranks send different amounts: each sends its
own summed shard, and shards of different layers cost different bits), and for co3 the bits an
entry of each stage's packets over all ranks (allgather: its packets as stage 1; rsag: stage 1
the worker's shard packets, stage 2 the summed shards'):
an all-reduce of T bytes as a ring's 2·(N−1)/N·T sent and received per rank (fp32, the bf16 hook
and PowerSGD's all-reduces, and the warm-up), an all-gather as (N−1) times this rank's piece
sent and the other ranks' pieces received, co3's all-to-all as its off-diagonal split sizes (the
co3 hook counts its own collectives the same way); the mean over the timed exchanges (co3's
packets vary a little from step to step). Time is the median wall time of --iters
exchanges after the hooks' warm-up; on a shared machine over loopback it says little.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))

DATA = os.environ.get("CO3_DATA_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                                     "shared", "data")
NO_DATA = 77  # the exit status without the gradient files (ctest's smoke run counts it skipped)
FIRST_BUCKET = 262144  # DDP's first bucket: 1 MiB of float32
ALGORITHMS = ("fp32", "bf16-hook", "powersgd", "co3-allgather", "co3-rsag")


def resnet18_shapes():
    """torchvision's ResNet-18 parameter shapes in parameters() order (10 classes)."""
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            first = block == 0
            shapes += [(cout, cin if first else cout, 3, 3), (cout,), (cout,),
                       (cout, cout, 3, 3), (cout,), (cout,)]
            if first and (stride != 1 or cin != cout):
                shapes += [(cout, cin, 1, 1), (cout,), (cout,)]
        cin = cout
    return shapes + [(10, 512), (10,)]


def gradient_path(rank):
    return os.path.join(DATA, "resnet18_step0.f32" if rank % 2 == 0 else "resnet18_step120.f32")


def require_data():
    for rank in (0, 1):
        if not os.path.exists(gradient_path(rank)):
            print(f"bench_collective: {gradient_path(rank)} is absent (shared/data holds the "
                  "ResNet-18 gradients)", file=sys.stderr)
            sys.exit(NO_DATA)


def gradient(rank, entries):
    return torch.from_file(gradient_path(rank), size=entries, dtype=torch.float32).clone()


class Bucket:
    """What a DDP hook reads of a GradBucket: the flat buffer and per-parameter views of it."""

    def __init__(self, index, buffer, shapes, last):
        self._index, self._buffer, self._last = index, buffer, last
        self._grads, offset = [], 0
        for shape in shapes:
            n = 1
            for d in shape:
                n *= d
            self._grads.append(buffer[offset:offset + n].view(shape))
            offset += n

    def buffer(self):
        return self._buffer

    def index(self):
        return self._index

    def is_last(self):
        return self._last

    def gradients(self):
        return self._grads

    def parameters(self):
        return self._grads


def bucket_shapes(entries):
    """The parameter shapes of the first `entries` entries, the last parameter cut to the whole
    output channels that fit (a matrix still, for PowerSGD), split into DDP's buckets: a first
    one of FIRST_BUCKET entries, the rest in a second."""
    flat = []
    left = entries
    for shape in resnet18_shapes():
        n = 1
        for d in shape:
            n *= d
        if n > left:
            rows = left // (n // shape[0])
            if rows:
                flat.append((rows,) + tuple(shape[1:]))
            break
        flat.append(shape)
        left -= n
    buckets, current, size = [], [], 0
    for shape in flat:
        n = 1
        for d in shape:
            n *= d
        if buckets == [] and current and size + n > FIRST_BUCKET:
            buckets.append(current)
            current, size = [], 0
        current.append(shape)
        size += n
    return buckets + [current]


class Counter:
    """Bytes of the torch.distributed calls made while installed (see the module's doc)."""

    def __init__(self, world):
        self.world, self.sent, self.received = world, 0, 0
        self._saved = {}

    def __enter__(self):
        counter = self
        for name in ("all_reduce", "all_gather"):
            self._saved[name] = getattr(dist, name)
        real_all_reduce, real_all_gather = self._saved["all_reduce"], self._saved["all_gather"]

        def all_reduce(tensor, *args, **kwargs):
            t = tensor.numel() * tensor.element_size()
            counter.sent += 2 * (counter.world - 1) * t / counter.world
            counter.received += 2 * (counter.world - 1) * t / counter.world
            return real_all_reduce(tensor, *args, **kwargs)

        def all_gather(outputs, tensor, *args, **kwargs):
            t = tensor.numel() * tensor.element_size()
            counter.sent += (counter.world - 1) * t
            counter.received += sum(o.numel() * o.element_size() for o in outputs) - t
            return real_all_gather(outputs, tensor, *args, **kwargs)

        dist.all_reduce, dist.all_gather = all_reduce, all_gather
        return self

    def __exit__(self, *exc):
        for name, fn in self._saved.items():
            setattr(dist, name, fn)


def make_hook(algorithm, a, group):
    """(state, hook) for DDP's register_comm_hook signature."""
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks, powerSGD_hook
    if algorithm == "fp32":
        def allreduce(_, bucket):
            world = dist.get_world_size()
            fut = dist.all_reduce(bucket.buffer(), async_op=True).get_future()
            return fut.then(lambda f: f.value()[0].div_(world))
        return None, allreduce
    if algorithm == "bf16-hook":
        return group, default_hooks.bf16_compress_hook
    if algorithm == "powersgd":
        state = powerSGD_hook.PowerSGDState(process_group=group,
                                            matrix_approximation_rank=a.powersgd_rank,
                                            start_powerSGD_iter=2, warm_start=True)
        return state, powerSGD_hook.powerSGD_hook
    import co3
    state = co3.CO3HookState(gamma=0.7, format=a.format, code=a.code,
                             threads=getattr(a, "threads", 0),  # accuracy_ddp.py passes none
                             algorithm="rsag" if algorithm == "co3-rsag" else "allgather")
    return state, co3.ddp_comm_hook


def exchange(state, hook, buckets):
    """The buckets one after the other: PowerSGD chains collectives in its futures' callbacks,
    and hooks in flight together could then issue them in another order on another rank."""
    for b in buckets:
        hook(state, b).wait()


def run(rank, world, a, init, out):
    torch.set_num_threads(1)
    device = torch.device(a.device, rank if a.device == "cuda" else None)
    if a.device == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(a.backend, init_method=f"file://{init}", rank=rank, world_size=world)
    shapes = bucket_shapes(a.entries)
    entries = sum(torch.Size(s).numel() for sh in shapes for s in sh)
    grad = gradient(rank, entries).to(device)
    rows = []
    for algorithm in a.algorithm:
        state, hook = make_hook(algorithm, a, dist.group.WORLD)

        def buckets():
            bs, offset = [], 0
            for i, sh in enumerate(shapes):
                n = sum(torch.Size(s).numel() for s in sh)
                bs.append(Bucket(i, grad[offset:offset + n].clone(), sh, i == len(shapes) - 1))
                offset += n
            return bs

        for _ in range(2):  # the co3 hook's and PowerSGD's warm-up iterations (plain all-reduce)
            exchange(state, hook, buckets())
        times = []
        with Counter(world) as counter:
            for _ in range(a.iters):
                bs = buckets()
                if a.device == "cuda":
                    torch.cuda.synchronize()
                dist.barrier()
                t0 = time.perf_counter()
                exchange(state, hook, bs)
                if a.device == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
        mine = {"sent": counter.sent / a.iters, "received": counter.received / a.iters}
        if algorithm.startswith("co3"):  # its own count (rsag's collectives run in C++); the
            mine = {"sent": state.sent_bytes / a.iters,  # warm-up's all-reduces are not in it
                    "received": state.received_bytes / a.iters,
                    "stage1": (state.packet_bytes - state.summed_packet_bytes, state.elements),
                    "stage2": (state.summed_packet_bytes, state.summed_elements)}
        ranks = [None] * world  # every rank's count: the ranks' shards differ in bits
        dist.all_gather_object(ranks, mine)
        sent = statistics.mean(r["sent"] for r in ranks)
        received = statistics.mean(r["received"] for r in ranks)
        bits = {}
        for stage in ("stage1", "stage2"):
            if algorithm.startswith("co3"):
                coded = sum(r[stage][1] for r in ranks)
                bits[stage + "_bits_per_entry"] = (8 * sum(r[stage][0] for r in ranks) / coded
                                                   if coded else None)
        rows.append({"algorithm": algorithm, "world": world,
                     "format": a.format if algorithm.startswith("co3") else
                     {"fp32": "fp32", "bf16-hook": "bf16", "powersgd": f"rank {a.powersgd_rank}"}[algorithm],
                     "code": a.code if algorithm.startswith("co3") else None,
                     "entries": entries, "buckets": len(shapes),
                     "bytes_sent_per_rank": sent, "bytes_received_per_rank": received,
                     "bytes_sent_max_rank": max(r["sent"] for r in ranks),
                     "bytes_sent_rank0": ranks[0]["sent"], **bits,
                     "fp32_ring_bytes": 2 * (world - 1) / world * 4 * entries,
                     "seconds_per_exchange": statistics.median(times),
                     "device": a.device, "backend": a.backend, "link": a.link})
    if rank == 0:
        with open(out, "w") as f:
            json.dump(rows, f)
    dist.barrier()
    dist.destroy_process_group()


def worker(rank, world, a, init, out):
    run(rank, world, a, init, out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--world", type=int, default=2)
    p.add_argument("--algorithm", default=",".join(ALGORITHMS),
                   help="comma-separated: " + ", ".join(ALGORITHMS))
    p.add_argument("--format", default="fp4", help="co3's format (both stages of rsag)")
    p.add_argument("--code", default="histogram", help="co3's code source (histogram, gennorm)")
    p.add_argument("--powersgd-rank", type=int, default=2)
    p.add_argument("--entries", type=int, default=3_500_000,
                   help="the first entries of the gradient (cut to whole output channels)")
    p.add_argument("--iters", type=int, default=3, help="timed exchanges after the warm-up")
    p.add_argument("--threads", type=int, default=0,
                   help="co3's CPU codec threads per rank (0: every core; ranks sharing a "
                        "machine's cores: its cores / ranks)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--backend", default=None, help="gloo (default on CPU) or nccl")
    p.add_argument("--link", default="loopback", help="a label for the rows (link_emulation.sh)")
    p.add_argument("--init", default=None, help="a shared file for the rendezvous (else a temp)")
    p.add_argument("--rank", type=int, default=None,
                   help="run only this rank (one process per rank, started elsewhere)")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    require_data()
    a.algorithm = a.algorithm.split(",")
    for alg in a.algorithm:
        if alg not in ALGORITHMS:
            p.error(f"unknown algorithm {alg!r}")
    a.backend = a.backend or ("nccl" if a.device == "cuda" else "gloo")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "rows.json")
        if a.rank is not None:
            worker(a.rank, a.world, a, a.init, out)
            if a.rank != 0:
                return
        else:
            mp.spawn(worker, args=(a.world, a, os.path.join(d, "rendezvous"), out),
                     nprocs=a.world, join=True)
        with open(out) as f:
            rows = json.load(f)
    print(f"{'algorithm':14} {'N':>3} {'format':8} {'sent B/rank':>13} {'recv B/rank':>13} "
          f"{'% fp32 ring':>11} {'max rank %':>10} {'bits 1+2':>11} {'s/exchange':>10}")
    for r in rows:
        stages = "/".join(f"{r[k]:.2f}" for k in ("stage1_bits_per_entry", "stage2_bits_per_entry")
                          if r.get(k) is not None)
        print(f"{r['algorithm']:14} {r['world']:3d} {r['format']:8} {r['bytes_sent_per_rank']:13.0f} "
              f"{r['bytes_received_per_rank']:13.0f} "
              f"{100 * r['bytes_sent_per_rank'] / r['fp32_ring_bytes']:10.2f}% "
              f"{100 * r['bytes_sent_max_rank'] / r['fp32_ring_bytes']:9.2f}% {stages:>11} "
              f"{r['seconds_per_exchange']:10.4f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
