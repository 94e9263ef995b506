"""CO3HookState.state_dict()/load_state_dict(): a job resumed from a checkpoint continues with
its error feedback. Two Gloo processes on 127.0.0.1, DDP with the co3 hook (rsag, so both the
worker's and the shard's memories are in play):

- run A trains STEPS steps and checkpoints model, optimizer and hook state after step CUT;
  after a resume the hook all-reduces plainly for one iteration (DDP's new buckets), so A goes
  through the same (it reloads its own state at the same point);
- run B starts a new DDP from the checkpoint and trains the remaining steps: its parameters must
  equal A's, bit for bit, on every rank;
- run C does the same without loading the hook state: its parameters differ (the memories
  mattered), which shows the comparison can fail.
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
STEPS = 9
CUT = 4
TIMEOUT_S = 150


def data(rank):
    g = torch.Generator().manual_seed(1000 + rank)
    return torch.randn(STEPS, 16, 32, generator=g), torch.randint(0, 4, (STEPS, 16), generator=g)


def new_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))


def train(ddp, opt, x, y, steps, on_step=None):
    for step in steps:
        loss = torch.nn.functional.cross_entropy(ddp(x[step]), y[step])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if on_step:
            on_step(step)


def body(rank, out_dir):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    import co3

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{out_dir}/rendezvous", rank=rank,
                            world_size=WORLD)
    x, y = data(rank)

    def hooked(model, state):
        ddp = DDP(model)
        ddp.register_comm_hook(state, co3.ddp_comm_hook)
        return ddp, torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)

    def hook_state():
        return co3.CO3HookState(gamma=0.7, format="fp4", algorithm="rsag", chunk=512,
                                refit="running-average")

    state = hook_state()
    ddp, opt = hooked(new_model(), state)
    saved = {}

    def checkpoint(step):
        if step == CUT:
            saved["model"] = {k: v.clone() for k, v in ddp.module.state_dict().items()}
            saved["opt"] = opt.state_dict()
            saved["hook"] = state.state_dict()
            torch.save(saved, os.path.join(out_dir, f"ckpt_{rank}.pt"))  # it survives a file
            state.load_state_dict(state.state_dict())  # A resumes the same way B will

    train(ddp, opt, x, y, range(STEPS), checkpoint)
    result = {"A": ddp.module.state_dict()}
    for run, load_hook in (("B", True), ("C", False)):
        ckpt = torch.load(os.path.join(out_dir, f"ckpt_{rank}.pt"))
        model = new_model()
        model.load_state_dict(ckpt["model"])
        resumed = hook_state()
        if load_hook:
            resumed.load_state_dict(ckpt["hook"])
        else:
            resumed.iter = ckpt["hook"]["iter"]
            resumed.plain_until = resumed.iter + 1
        ddp2, opt2 = hooked(model, resumed)
        opt2.load_state_dict(ckpt["opt"])
        train(ddp2, opt2, x, y, range(CUT + 1, STEPS))
        result[run] = ddp2.module.state_dict()
    torch.save(result, os.path.join(out_dir, f"params_{rank}.pt"))
    memories = [k for k in saved["hook"] if "memory/" in k]
    with open(os.path.join(out_dir, f"keys_{rank}.json"), "w") as f:
        json.dump(memories, f)


def worker(rank, out_dir):
    exit_after(body, rank, out_dir)


class CheckpointTest(unittest.TestCase):
    def test_a_resumed_job_continues_with_its_error_feedback(self):
        with tempfile.TemporaryDirectory() as out:
            run_ranks(self, worker, lambda r: (r, out), WORLD, TIMEOUT_S)
            params = [torch.load(os.path.join(out, f"params_{r}.pt")) for r in range(WORLD)]
            with open(os.path.join(out, "keys_0.json")) as f:
                keys = json.load(f)
        self.assertIn("compressor/memory/bucket0#0", keys)
        self.assertIn("shard_compressor/memory/bucket0", keys)
        for r in range(WORLD):
            for name, p in params[r]["A"].items():
                self.assertTrue(torch.equal(p, params[r]["B"][name]), f"rank {r} {name}: B != A")
                self.assertTrue(torch.equal(p, params[0]["A"][name]), f"rank {r} {name} != rank 0")
        self.assertFalse(all(torch.equal(p, params[0]["C"][n]) for n, p in params[0]["A"].items()),
                         "without the hook state the run ended the same: the test cannot fail")

    def test_a_checkpoint_of_another_algorithm_is_refused(self):
        import co3
        a = co3.CO3HookState(algorithm="rsag")
        b = co3.CO3HookState(algorithm="allgather")
        with self.assertRaisesRegex(ValueError, "algorithm 'rsag'"):
            b.load_state_dict(a.state_dict())
        with self.assertRaisesRegex(ValueError, "not a CO3HookState"):
            b.load_state_dict({"weights": torch.zeros(1)})


if __name__ == "__main__":
    unittest.main()
