"""Failures inside a DDP step with the co3 hook, two Gloo processes on 127.0.0.1:

- an Inf in one rank's gradient at one step (what mixed precision produces before GradScaler
  lowers its scale): with non_finite="propagate" (the hook's default) every rank's averaged
  gradient holds it, GradScaler skips that step on every rank, exactly the steps DDP without the
  hook skips, the ranks' parameters stay identical, and the bucket's error memory and its
  running-average refit's fit and averages are left as they were before the skipped step;
- one rank failing inside the hook (an out-of-memory error raised by its compressor): every rank
  raises the same error naming that rank, within the time bound, and none hangs.

Both for algorithm="allgather" and "rsag" (whose failure is a rank whose error memory no longer
fits its shard, as a wrong checkpoint would leave it; its memories are the worker's per shard
and the shard compressor's, all of which must stay on a skipped step).
"""
import json
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.dirname(__file__))
from ranks import exit_after, run_ranks  # noqa: E402

WORLD = 2
STEPS = 8
INF_STEP = 4      # after the hook's two plain all-reduce iterations
FAIL_STEP = 3
TIMEOUT_S = 120


def model_and_data(rank):
    torch.manual_seed(0)  # the same initial model on every rank
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))
    g = torch.Generator().manual_seed(1000 + rank)
    x = torch.randn(STEPS, 16, 32, generator=g)
    y = torch.randint(0, 4, (STEPS, 16), generator=g)
    return model, x, y


RSAG = {"algorithm": "rsag", "chunk": 512}  # 2,372 entries: two shards of whole chunks


def memories(state):
    """Every error memory of the hook's state (worker and, for rsag, shard)."""
    out = {k: v.clone() for k, v in state.compressor.state_dict().items() if k.startswith("memory/")}
    out.update({"shard/" + k: v.clone() for k, v in state.shard_compressor.state_dict().items()
                if k.startswith("memory/")})
    return out


def run_inf(rank, init_file, out_dir, use_co3, algorithm="allgather"):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    import co3

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    model, x, y = model_and_data(rank)
    ddp = DDP(model)
    state = None
    if use_co3:
        # running-average: the scale's averages, like the memory, must not move either
        extra = RSAG if algorithm == "rsag" else {"algorithm": algorithm}
        state = co3.CO3HookState(gamma=0.7, format="fp4", refit="running-average", **extra)
        ddp.register_comm_hook(state, co3.ddp_comm_hook)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=1.0, growth_interval=1000)
    skipped, memory_kept, statistics_kept = [], None, None
    for step in range(STEPS):
        xs = x[step].clone()
        if rank == 1 and step == INF_STEP:
            xs[3, 5] = float("inf")  # this rank's gradient gets Inf/NaN entries
        if state is not None and step == INF_STEP:
            before = memories(state)
            stats_before = {k: v for k, v in state.state_dict().items()  # worker and shard
                            if "/fit/" in k or "/average/" in k}
        loss = torch.nn.functional.cross_entropy(ddp(xs), y[step])
        opt.zero_grad()
        scaler.scale(loss).backward()
        scale = scaler.get_scale()
        scaler.step(opt)
        scaler.update()
        if scaler.get_scale() < scale:  # GradScaler found an Inf/NaN and skipped the step
            skipped.append(step)
        if state is not None and step == INF_STEP:
            after_memories = memories(state)
            memory_kept = (len(before) >= (3 if algorithm == "rsag" else 1) and
                           all(torch.equal(v, after_memories[k]) for k, v in before.items()))
            after = state.state_dict()
            statistics_kept = bool(stats_before) and all(torch.equal(v, after[k])
                                                         for k, v in stats_before.items())
    tag = f"co3{algorithm}" if use_co3 else "plain"
    torch.save(model.state_dict(), os.path.join(out_dir, f"{tag}_params_{rank}.pt"))
    with open(os.path.join(out_dir, f"{tag}_result_{rank}.json"), "w") as f:
        json.dump({"skipped": skipped, "memory_kept": memory_kept,
                   "statistics_kept": statistics_kept}, f)


def run_fail(rank, init_file, out_dir, algorithm="allgather"):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    import co3

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    model, x, y = model_and_data(rank)
    ddp = DDP(model)
    state = co3.CO3HookState(gamma=0.7, format="fp4",
                             **(RSAG if algorithm == "rsag" else {"algorithm": algorithm}))
    ddp.register_comm_hook(state, co3.ddp_comm_hook)
    if rank == 1 and algorithm == "allgather":
        real = state.compressor.compress
        calls = {"n": 0}

        def failing(named):
            calls["n"] += 1
            if calls["n"] == FAIL_STEP - state.start_iter + 1:
                raise torch.OutOfMemoryError("simulated: CUDA out of memory on this rank")
            return real(named)

        state.compressor.compress = failing
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    message = None
    for step in range(STEPS):
        if rank == 1 and algorithm == "rsag" and step == FAIL_STEP:
            # an error memory that no longer fits its shard: this rank's coding fails
            broken = state.compressor.state_dict()
            broken["memory/bucket0#0"] = torch.zeros(3)
            state.compressor.load_state_dict(broken)
        loss = torch.nn.functional.cross_entropy(ddp(x[step]), y[step])
        opt.zero_grad()
        try:
            loss.backward()
        except Exception as e:  # noqa: BLE001 - the error DDP raises is what is checked
            message = str(e)
            break
        opt.step()
    with open(os.path.join(out_dir, f"fail{algorithm}_result_{rank}.json"), "w") as f:
        json.dump({"step": step, "message": message}, f)


def body(kind, rank, out_dir, use_co3, algorithm):
    init = os.path.join(out_dir, f"rendezvous_{kind}_{use_co3}_{algorithm}")
    if kind == "inf":
        run_inf(rank, init, out_dir, use_co3, algorithm)
    else:
        run_fail(rank, init, out_dir, algorithm)


def worker(kind, rank, out_dir, use_co3, algorithm):
    exit_after(body, kind, rank, out_dir, use_co3, algorithm)


def run_world(test, kind, out, use_co3=True, algorithm="allgather"):
    run_ranks(test, worker, lambda r: (kind, r, out, use_co3, algorithm), WORLD, TIMEOUT_S,
              f"{kind} {algorithm}: ")


def load(out, name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)


class DDPFailureTest(unittest.TestCase):
    def test_an_inf_on_one_rank_is_skipped_on_every_rank_like_plain_ddp(self):
        with tempfile.TemporaryDirectory() as out:
            run_world(self, "inf", out, use_co3=False)  # the oracle: DDP without the hook
            for algorithm in ("allgather", "rsag"):
                with self.subTest(algorithm=algorithm):
                    self.check_inf(out, algorithm)

    def check_inf(self, out, algorithm):
        run_world(self, "inf", out, use_co3=True, algorithm=algorithm)
        plain = [load(out, f"plain_result_{r}.json") for r in range(WORLD)]
        co3r = [load(out, f"co3{algorithm}_result_{r}.json") for r in range(WORLD)]
        params = [torch.load(os.path.join(out, f"co3{algorithm}_params_{r}.pt"))
                  for r in range(WORLD)]
        self.assertEqual(plain[0]["skipped"], [INF_STEP])  # the oracle: DDP without the hook
        for r in range(WORLD):
            self.assertEqual(co3r[r]["skipped"], plain[0]["skipped"], f"rank {r}")
            self.assertTrue(co3r[r]["memory_kept"], f"rank {r}: the skipped step moved the memory")
            self.assertTrue(co3r[r]["statistics_kept"],
                            f"rank {r}: the skipped step moved the running-average refit's state")
        for name, p in params[0].items():
            self.assertTrue(torch.isfinite(p).all(), name)
            self.assertTrue(torch.equal(p, params[1][name]), f"{name} differs between ranks")

    def test_a_rank_failing_in_the_hook_fails_every_rank_with_its_reason(self):
        self.check_fail("allgather", "simulated: CUDA out of memory")

    def test_rsag_a_rank_failing_in_the_hook_fails_every_rank_with_its_reason(self):
        self.check_fail("rsag", "error memory has shape [3]")

    def check_fail(self, algorithm, reason):
        with tempfile.TemporaryDirectory() as out:
            run_world(self, "fail", out, algorithm=algorithm)
            results = [load(out, f"fail{algorithm}_result_{r}.json") for r in range(WORLD)]
        for r, res in enumerate(results):
            self.assertEqual(res["step"], FAIL_STEP, f"rank {r}")
            self.assertIsNotNone(res["message"], f"rank {r} did not raise")
            self.assertIn("rank 1 failed", res["message"], f"rank {r}")
            self.assertIn(reason, res["message"], f"rank {r}")
        # the same reason on every rank (a rank's message may carry a traceback after it)
        reasons = [res["message"].split("rank 1 failed")[1].splitlines()[0] for res in results]
        self.assertEqual(reasons, [reasons[0]] * WORLD)


if __name__ == "__main__":
    unittest.main()
