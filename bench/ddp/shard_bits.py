"""Where rsag's bits go, offline: one step of rsag's two stages replayed with co3.encode/decode
on the ResNet-18 gradient that bench_collective.py exchanges (its buckets; rank r holds step 0's
gradient for even r, step 120's for odd r), without error feedback (a first step) and without
processes or collectives. Prints the bits an entry of each stage, the summed shards' bits by
rank, and each rank's bytes sent as a share of an fp32 ring all-reduce's (mean over the ranks,
and the most any rank sends: rank s sends its summed shard to N − 1 ranks, so the shard of the
costliest layers sets it). An experiment, not a test: nothing is asserted.

    PYTHONPATH=python python3 bench/ddp/shard_bits.py --world 8 --fit bucket --cut contiguous

--fit bucket: every shard of a rank at the scale of its whole bucket's GenNorm fit (what rsag
does: Compressor::compress_each(one_fit)); shard: each shard its own fit (rsag before).
--cut contiguous: shard s holds chunks [s·C/N, (s+1)·C/N) (co3's shard_bounds); striped: chunks
s, s + N, s + 2N, … (every shard samples every layer), which rsag does not do.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
sys.path.insert(0, os.path.dirname(__file__))
from bench_collective import bucket_shapes, gradient  # noqa: E402


def shard_indices(entries, world, chunk, cut):
    import co3  # noqa: F401  (torch.ops.co3)
    if cut == "contiguous":
        b = torch.ops.co3.shard_bounds(entries, world, chunk)
        return [torch.arange(b[s], b[s + 1]) for s in range(world)]
    chunks = -(-entries // chunk)
    empty = torch.zeros(0, dtype=torch.long)
    return [torch.cat([torch.arange(c * chunk, min(entries, (c + 1) * chunk))
                       for c in range(s, chunks, world)] or [empty]) for s in range(world)]


def main():
    import co3
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--world", type=int, default=8)
    p.add_argument("--format", default="fp4")
    p.add_argument("--code", default="histogram")
    p.add_argument("--chunk", type=int, default=4096)
    p.add_argument("--fit", choices=("bucket", "shard"), default="bucket")
    p.add_argument("--cut", choices=("contiguous", "striped"), default="contiguous")
    p.add_argument("--entries", type=int, default=3_500_000)
    a = p.parse_args()
    torch.set_num_threads(1)
    config = dict(format=a.format, code=a.code, chunk=a.chunk, non_finite="propagate")
    shapes = bucket_shapes(a.entries)
    sizes = [sum(torch.Size(s).numel() for s in sh) for sh in shapes]
    total = sum(sizes)
    grads = [gradient(0, total), gradient(1, total)]
    world = a.world
    stage1 = [0] * world  # bytes of rank r's shard packets
    stage2 = [0] * world  # bytes of shard s's summed packet
    entries2 = [0] * world
    offset = 0
    for n in sizes:
        shards = shard_indices(n, world, a.chunk, a.cut)
        buckets = [grads[r % 2][offset:offset + n] for r in range(world)]
        scales = [co3.stats(b, **config)["scale"] for b in buckets]
        for s, index in enumerate(shards):
            if index.numel() == 0:
                continue
            summed = torch.zeros(index.numel())
            for r in range(world):
                fit = {"scale": scales[r]} if a.fit == "bucket" else {}
                packet = co3.encode(buckets[r][index], **config, **fit)
                stage1[r] += packet.numel()
                summed += co3.decode(packet, as_float32=True)[0].reshape(-1)
            packet = co3.encode(summed, **config)
            stage2[s] += packet.numel()
            entries2[s] += index.numel()
        offset += n
    ring = 2 * (world - 1) / world * 4 * total
    sent = [(world - 1) / world * stage1[r] + (world - 1) * stage2[r] for r in range(world)]
    print(f"N={world} {a.format} fit={a.fit} cut={a.cut}: stage 1 {8 * sum(stage1) / (world * total):.3f}"
          f" bits/entry, stage 2 {8 * sum(stage2) / total:.3f}; summed shards by rank: "
          + " ".join(f"{8 * stage2[s] / entries2[s]:.2f}" for s in range(world) if entries2[s])
          + f"; sent per rank {100 * sum(sent) / world / ring:.2f} % of the fp32 ring (mean),"
          f" {100 * max(sent) / ring:.2f} % (most)")


if __name__ == "__main__":
    main()
