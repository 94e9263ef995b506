"""The hook's hierarchical exchange (CO3HookState(intra_group=..., inter_group=...)) on 4 Gloo
processes as 2 "machines" × 2 "GPUs": ranks {0, 1} and {2, 3} share a machine, {0, 2} and
{1, 3} hold the same piece. co3 runs rsag across machines.

- buckets of 1, 5,000 and 100,003 entries: every rank ends with the same bits, and they are an
  independent replay's: each machine's float32 sum of the pieces (two addends, so the order
  does not matter), rsag of each piece over the machines from co3.encode/decode (this test's
  shard cut, each shard at the scale co3.stats gives the rank's whole piece), the pieces joined
  and divided by 2;
- an Inf on rank 3 reaches every rank's average, and every rank's memories, also those of the
  ranks whose piece was finite, stay as they were before that step;
- a step on which rsag moves piece 1's shard cut changes those memories' shapes, and with an Inf
  in piece 0 the skipped step puts them back, shapes and all;
- rank 1 failing to code (its memory no longer fits) makes all four raise the same error.
"""
import json
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.dirname(__file__))
from ranks import exit_after, run_ranks  # noqa: E402

WORLD = 4
SIZES = [1, 5000, 100003]
CHUNK = 4096
TIMEOUT_S = 150
FORMATS = {"format": "fp4", "code": "gennorm"}


def grad_of(rank, size, step=0):
    g = torch.Generator().manual_seed(31 * size + 7 * rank + step)
    return torch.randn(size, generator=g) * 1e-2


class Bucket:
    def __init__(self, index, buffer):
        self._index, self._buffer = index, buffer

    def buffer(self):
        return self._buffer

    def index(self):
        return self._index

    def is_last(self):
        return True


def body(rank, out_dir):
    import torch.distributed as dist
    import co3

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{out_dir}/rendezvous", rank=rank,
                            world_size=WORLD)
    machines = [dist.new_group([0, 1]), dist.new_group([2, 3])]
    pieces = [dist.new_group([0, 2]), dist.new_group([1, 3])]
    intra, inter = machines[rank // 2], pieces[rank % 2]

    def state_of(gamma):
        s = co3.CO3HookState(gamma=gamma, algorithm="rsag", intra_group=intra,
                             inter_group=inter, **FORMATS)
        s.iter = s.start_iter  # past the warm-up
        return s

    result = {}
    state = state_of(0.0)
    for i, size in enumerate(SIZES):
        g = grad_of(rank, size)
        co3.ddp_comm_hook(state, Bucket(i, g)).wait()
        torch.save(g, os.path.join(out_dir, f"avg_{size}_{rank}.pt"))

    state = state_of(0.7)
    g = grad_of(rank, 20000)
    co3.ddp_comm_hook(state, Bucket(0, g)).wait()
    before = {k: v.clone() for k, v in state.state_dict().items() if "memory/" in k}
    g = grad_of(rank, 20000, step=1)
    if rank == 3:
        g[123] = float("inf")  # piece 0: machine 1's local rank 0 (rank 2) codes it
    co3.ddp_comm_hook(state, Bucket(0, g)).wait()
    after = state.state_dict()
    result["kept"] = bool(before) and all(torch.equal(v, after[k]) for k, v in before.items())
    result["non_finite"] = torch.nonzero(~torch.isfinite(g)).flatten().tolist()

    # A step whose piece 1 moves rsag's cut (docs/DISTRIBUTED.md, "The shard cut"): pieces of 8
    # chunks, piece 1's first 3 chunks zero at the second step, so that its first summed shard
    # codes much less than its second. Without an Inf the memories of piece 1 change shape; with
    # an Inf in piece 0 the whole bucket is skipped and they go back as they were, shape and all.
    size = 16 * CHUNK
    for inf in (False, True):
        state = state_of(0.7)
        co3.ddp_comm_hook(state, Bucket(0, grad_of(rank, size))).wait()
        before = {k: v.clone() for k, v in state.state_dict().items() if "memory/" in k}
        g = grad_of(rank, size, 1)
        g[size // 2:size // 2 + 3 * CHUNK] = 0
        if inf and rank == 3:
            g[123] = float("inf")
        co3.ddp_comm_hook(state, Bucket(0, g)).wait()
        after = state.state_dict()
        shapes = [k for k, v in before.items() if v.shape != after[k].shape]
        kept = all(torch.equal(v, after[k]) for k, v in before.items())
        result["recut_inf" if inf else "recut"] = {"reshaped": shapes, "kept": kept}

    state = state_of(0.7)
    co3.ddp_comm_hook(state, Bucket(0, grad_of(rank, 20000))).wait()
    if rank == 1:
        broken = state.compressor.state_dict()
        broken["memory/bucket0#0"] = torch.zeros(3)
        state.compressor.load_state_dict(broken)
    try:
        co3.ddp_comm_hook(state, Bucket(0, grad_of(rank, 20000, step=2))).wait()
        result["fail"] = None
    except RuntimeError as e:
        result["fail"] = str(e)
    with open(os.path.join(out_dir, f"result_{rank}.json"), "w") as f:
        json.dump(result, f)


def worker(rank, out_dir):
    exit_after(body, rank, out_dir)


def rsag_replay(parts):
    """rsag's average of equal-sized float32 tensors, one per rank, from co3.encode/decode."""
    import co3
    world, size = len(parts), parts[0].numel()
    chunks = -(-size // CHUNK)
    b = [min(size, (s * chunks // world) * CHUNK) for s in range(world + 1)]
    out = torch.zeros(size)
    for s in range(world):
        if b[s + 1] == b[s]:
            continue
        total = torch.zeros(b[s + 1] - b[s])
        for p in parts:  # each rank's shards at its whole piece's scale (one fit for all)
            scale = co3.stats(p, **FORMATS)["scale"]
            total += co3.decode(co3.encode(p[b[s]:b[s + 1]], non_finite="propagate", scale=scale,
                                           **FORMATS))[0]
        out[b[s]:b[s + 1]] = co3.decode(co3.encode(total, non_finite="propagate", **FORMATS))[0]
    return out / world


def replay(size):
    piece = -(-size // 2)
    sums = []
    for m in range(2):
        s = torch.zeros(2 * piece)
        s[:size] = grad_of(2 * m, size) + grad_of(2 * m + 1, size)
        sums.append(s)
    joined = torch.cat([rsag_replay([sums[0][l * piece:(l + 1) * piece],
                                     sums[1][l * piece:(l + 1) * piece]]) for l in range(2)])
    return joined[:size] / 2


class HierarchicalTest(unittest.TestCase):
    def test_two_machines_of_two(self):
        with tempfile.TemporaryDirectory() as out:
            run_ranks(self, worker, lambda r: (r, out), WORLD, TIMEOUT_S)
            averages = {size: [torch.load(os.path.join(out, f"avg_{size}_{r}.pt"))
                               for r in range(WORLD)] for size in SIZES}
            results = []
            for r in range(WORLD):
                with open(os.path.join(out, f"result_{r}.json")) as f:
                    results.append(json.load(f))
        for size in SIZES:
            expect = replay(size)
            for r in range(WORLD):
                self.assertTrue(torch.equal(averages[size][r], expect), f"{size}: rank {r}")
        for r, res in enumerate(results):
            self.assertEqual(res["non_finite"], [123], f"rank {r}")
            self.assertTrue(res["kept"], f"rank {r}: the skipped step moved a memory")
            if r % 2 == 1:  # piece 1's ranks moved their cut on the finite step
                self.assertTrue(res["recut"]["reshaped"], f"rank {r}: the cut did not move: {res['recut']}")
            self.assertTrue(res["recut_inf"]["kept"] and not res["recut_inf"]["reshaped"],
                            f"rank {r}: the skipped step kept a moved cut: {res['recut_inf']}")
            self.assertIsNotNone(res["fail"], f"rank {r} did not raise")
            self.assertIn("rank 1 failed", res["fail"], f"rank {r}")
            self.assertIn("error memory has shape [3]", res["fail"], f"rank {r}")
            self.assertEqual(res["fail"], results[0]["fail"])


if __name__ == "__main__":
    unittest.main()
