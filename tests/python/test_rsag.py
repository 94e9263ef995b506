"""The reduce-scatter + all-gather of shard packets (algorithm="rsag") over real Gloo process
groups of 2, 3, 4 and 8 processes on 127.0.0.1, through torch.ops.co3.compressed_allreduce:

- bucket sizes from 1 entry to 100,003, and 2^20 at 4 ranks (fewer chunks than ranks, sizes not
  divisible by the ranks or the chunk): every rank ends with the same bits, and those bits are what an independent replay
  gives (this test's own shard cut, co3.encode/decode of each rank's shard at the scale
  co3.stats gives that rank's whole bucket, the float32 sum in
  rank order, co3.encode/decode of the sum, divided by N), and the average is within both
  stages' quantization error of the float64 mean;
- an Inf in one rank's bucket reaches every rank's average, and every rank's worker and shard
  error memories stay as they were before that step;
- a rank that cannot code its bucket (an integer tensor) makes every rank raise the same error
  naming it, within the time bound.
"""
import json
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.dirname(__file__))
from ranks import exit_after, run_ranks  # noqa: E402

CHUNK = 4096
SIZES = [1, 7, CHUNK - 1, CHUNK + 1, 3 * CHUNK + 5, 8 * CHUNK, 100003]
LARGE = 1 << 20  # at 4 ranks only: the test's time is CI's
TIMEOUT_S = 180
FORMATS = {"format": "fp4", "code": "gennorm"}


def grad_of(rank, size):
    g = torch.Generator().manual_seed(7919 * size + rank)
    return torch.randn(size, generator=g) * (1e-2 * (1 + rank))


def bounds_of(entries, world):
    """The shard cut, as this test reads the issue: whole chunks, shard s holding chunks
    [s·C/N, (s+1)·C/N)."""
    chunks = -(-entries // CHUNK)
    return [min(entries, (s * chunks // world) * CHUNK) for s in range(world + 1)]


def sizes_of(world):
    return SIZES + [LARGE] if world == 4 else SIZES


def body(rank, world, out_dir, checks):
    import torch.distributed as dist
    import co3

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{out_dir}/rendezvous", rank=rank,
                            world_size=world)
    group = dist.distributed_c10d._get_default_group().boxed()
    result = {}
    for size in sizes_of(world):  # gamma 0: no memory, so the replay below needs none
        worker = co3.Compressor(gamma=0.0, **FORMATS)
        shard = co3.Compressor(gamma=0.0, **FORMATS)
        g = grad_of(rank, size)
        stats = torch.ops.co3.compressed_allreduce(group, worker._impl, shard._impl, [f"b{size}"],
                                                   [g], algorithm="rsag")
        torch.save(g, os.path.join(out_dir, f"avg_{size}_{rank}.pt"))
        result[size] = stats
    if "inf" in checks:
        worker = co3.Compressor(gamma=0.7, **FORMATS)
        shard = co3.Compressor(gamma=0.5, **FORMATS)
        size = 5 * CHUNK + 3
        g = grad_of(rank, size)
        torch.ops.co3.compressed_allreduce(group, worker._impl, shard._impl, ["b"], [g],
                                           algorithm="rsag")
        before = {k: v.clone() for k, v in worker.state_dict().items()}
        before.update({"shard/" + k: v.clone() for k, v in shard.state_dict().items()})
        g = grad_of(rank, size) * 2
        if rank == 1:
            g[CHUNK + 17] = float("inf")
        torch.ops.co3.compressed_allreduce(group, worker._impl, shard._impl, ["b"], [g],
                                           algorithm="rsag")
        after = dict(worker.state_dict())
        after.update({"shard/" + k: v for k, v in shard.state_dict().items()})
        kept = all(torch.equal(v, after[k]) for k, v in before.items()
                   if k.startswith(("memory/", "shard/memory/")))
        result["inf"] = {"kept": kept, "memories": sorted(k for k in before if "memory/" in k),
                         "non_finite": torch.nonzero(~torch.isfinite(g)).flatten().tolist()}
        torch.save(g, os.path.join(out_dir, f"inf_{rank}.pt"))
    if "fail" in checks:
        worker = co3.Compressor(gamma=0.7, **FORMATS)
        shard = co3.Compressor(gamma=0.7, **FORMATS)
        g = grad_of(rank, 3 * CHUNK)
        if rank == 1:
            g = g.to(torch.int32)
        try:
            torch.ops.co3.compressed_allreduce(group, worker._impl, shard._impl, ["fc.bias"], [g],
                                               algorithm="rsag")
            result["fail"] = None
        except (RuntimeError, ValueError) as e:  # co3's invalid_argument is a ValueError
            result["fail"] = str(e)
    with open(os.path.join(out_dir, f"result_{rank}.json"), "w") as f:
        json.dump(result, f)


def worker_main(rank, world, out_dir, checks):
    exit_after(body, rank, world, out_dir, checks)


def replay(world, size):
    """The average rsag must produce, from co3.encode/decode alone."""
    import co3
    b = bounds_of(size, world)
    grads = [grad_of(r, size) for r in range(world)]
    scales = [co3.stats(g, **FORMATS)["scale"] for g in grads]  # what one fit of the bucket gives
    out = torch.zeros(size)
    errors = torch.zeros(size, dtype=torch.float64)  # |stage-1 errors| summed + |stage-2 error|
    for s in range(world):
        if b[s + 1] == b[s]:
            continue
        total = torch.zeros(b[s + 1] - b[s])
        for r in range(world):  # every shard of a rank at the scale of its whole bucket
            part = grads[r][b[s]:b[s + 1]]
            decoded = co3.decode(co3.encode(part, non_finite="propagate", scale=scales[r],
                                            **FORMATS))[0]
            errors[b[s]:b[s + 1]] += (decoded.double() - part.double()).abs()
            total += decoded
        decoded = co3.decode(co3.encode(total, non_finite="propagate", **FORMATS))[0]
        errors[b[s]:b[s + 1]] += (decoded.double() - total.double()).abs()
        out[b[s]:b[s + 1]] = decoded
    reference = torch.stack([g.double() for g in grads]).mean(0)
    # float32 sums and the division: a few ulps of the magnitudes summed
    slack = 1e-6 * torch.stack([g.double().abs() for g in grads]).sum(0)
    return out / world, reference, errors / world + slack


class RsagTest(unittest.TestCase):
    def run_world(self, world, checks=()):
        with tempfile.TemporaryDirectory() as out:
            run_ranks(self, worker_main, lambda r: (r, world, out, tuple(checks)), world,
                      TIMEOUT_S, f"world {world}: ")
            results = []
            for r in range(world):
                with open(os.path.join(out, f"result_{r}.json")) as f:
                    results.append(json.load(f))
            averages = {size: [torch.load(os.path.join(out, f"avg_{size}_{r}.pt"))
                               for r in range(world)] for size in sizes_of(world)}
            inf = ([torch.load(os.path.join(out, f"inf_{r}.pt")) for r in range(world)]
                   if "inf" in checks else None)
        for size in sizes_of(world):
            expect, reference, error = replay(world, size)
            for r in range(world):
                got = averages[size][r]
                self.assertTrue(torch.equal(got, averages[size][0]),
                                f"world {world}, {size} entries: rank {r} differs from rank 0")
                self.assertTrue(torch.equal(got, expect),
                                f"world {world}, {size} entries: rank {r} is not the replay")
            # Within both stages' quantization error of the exact mean (float32 slack).
            self.assertTrue(bool(((averages[size][0].double() - reference).abs()
                                  <= error).all()), f"world {world}, {size} entries")
            stats = results[0][str(size)]
            self.assertEqual(stats[3], size)
            self.assertGreater(stats[1], 0 if world > 1 else -1)
            b = bounds_of(size, world)
            for r in range(world):  # stage 2: rank r's summed shard, its entries and packet
                st, n = results[r][str(size)], b[r + 1] - b[r]
                self.assertEqual(st[5], n, f"world {world}, {size} entries: rank {r}")
                self.assertEqual(st[4] > 0, n > 0, f"world {world}, {size} entries: rank {r}")
                self.assertLess(st[4], st[0], f"world {world}, {size} entries: rank {r}")
        if inf is not None:
            for r in range(world):
                res = results[r]["inf"]
                self.assertEqual(res["non_finite"], [CHUNK + 17], f"rank {r}")
                self.assertTrue(res["kept"], f"rank {r}: the skipped step moved a memory")
                self.assertIn("shard/memory/b", res["memories"], f"rank {r}")
                self.assertTrue(torch.equal(inf[r].view(torch.int32), inf[0].view(torch.int32)))
        if "fail" in checks:
            messages = [res["fail"] for res in results]
            for r, m in enumerate(messages):
                self.assertIsNotNone(m, f"rank {r} did not raise")
                self.assertIn("rank 1 failed", m, f"rank {r}")
                self.assertIn("fc.bias", m, f"rank {r}")
                self.assertEqual(m, messages[0])
        return results

    def test_two_ranks(self):
        self.run_world(2, ("inf", "fail"))

    def test_three_ranks(self):
        self.run_world(3, ("inf", "fail"))

    def test_four_ranks(self):
        import co3
        results = self.run_world(4, ("inf",))
        # Bytes: each rank sends about (N-1)/N of a bucket's packet at each stage, 2·3/4 of one
        # packet in all, where the all-gather of whole packets sends N-1 = 3 packets.
        packet = co3.encode(grad_of(0, LARGE), **FORMATS).numel()
        for r in range(4):
            self.assertLess(results[r][str(LARGE)][1], 0.55 * 3 * packet, f"rank {r}")

    def test_eight_ranks(self):
        self.run_world(8)


if __name__ == "__main__":
    unittest.main()
