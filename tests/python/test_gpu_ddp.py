"""The co3 Python API and DDP hook on CUDA tensors: the device path gives the CPU path's bytes,
and DDP trains with the hook over NCCL (one rank: one GPU cannot hold two NCCL ranks) and over
Gloo with CUDA buckets (two processes sharing the GPU), with algorithm "allgather" and "rsag".
Skips, saying so, without a GPU."""
import multiprocessing as mp
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import co3  # noqa: E402

HAVE_GPU = torch.cuda.is_available()
STEPS = 40


def train(rank, world, backend, init_file, out_dir, algorithm):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    try:
        dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank,
                                world_size=world)
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(),
                                    torch.nn.Linear(256, 10)).cuda()
        ddp = DDP(model, device_ids=[0])
        state = co3.CO3HookState(gamma=0.7, format="fp4", code="gennorm", algorithm=algorithm)
        ddp.register_comm_hook(state, co3.ddp_comm_hook)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
        g = torch.Generator().manual_seed(1000 + rank)
        # A fixed teacher: the labels are learnable.
        teacher = torch.nn.Linear(64, 10)
        losses = []
        for _ in range(STEPS):
            x = torch.randn(128, 64, generator=g)
            y = teacher(x).argmax(1)
            loss = torch.nn.functional.cross_entropy(ddp(x.cuda()), y.cuda())
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        torch.save({"params": {k: v.cpu() for k, v in model.state_dict().items()},
                    "first": sum(losses[:5]) / 5, "last": sum(losses[-5:]) / 5,
                    "packet_bytes": state.packet_bytes},
                   os.path.join(out_dir, f"{backend}_{algorithm}_{rank}.pt"))
    except BaseException:
        import traceback
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


def run_world(backend, world, algorithm="allgather"):
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as d:
        init = os.path.join(d, "init")
        procs = [ctx.Process(target=train, args=(r, world, backend, init, d, algorithm))
                 for r in range(world)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(240)
        codes = [p.exitcode for p in procs]
        for p in procs:
            if p.is_alive():
                p.kill()
        if codes != [0] * world:
            raise AssertionError(f"{backend} ranks exited with {codes}")
        return [torch.load(os.path.join(d, f"{backend}_{algorithm}_{r}.pt")) for r in range(world)]


@unittest.skipUnless(HAVE_GPU, "no CUDA device: the GPU Python/DDP tests were not run")
class GpuApi(unittest.TestCase):
    def test_encode_on_gpu_gives_the_cpu_bytes(self):
        torch.manual_seed(3)
        grads = [torch.randn(1000, 300) * 1e-3, torch.randn(77).half()]
        for fmt in ("fp4", "e5m2"):
            cpu = co3.encode(grads, format=fmt)
            gpu = co3.encode([t.cuda() for t in grads], format=fmt)
            self.assertTrue(gpu.is_cuda)
            self.assertTrue(torch.equal(gpu[: co3.packet_size(gpu)].cpu(), cpu), fmt)
            for a, b in zip(co3.decode(gpu), co3.decode(cpu)):
                self.assertTrue(torch.equal(a.cpu(), b))

    def test_ddp_nccl_one_rank(self):
        (r,) = run_world("nccl", 1)
        self.assertLess(r["last"], r["first"])
        self.assertGreater(r["packet_bytes"], 0)

    def test_ddp_gloo_cuda_buckets_two_ranks(self):
        r0, r1 = run_world("gloo", 2)
        for k in r0["params"]:
            self.assertTrue(torch.equal(r0["params"][k], r1["params"][k]), k)
        self.assertLess(r0["last"], r0["first"])

    def test_ddp_nccl_one_rank_rsag(self):
        (r,) = run_world("nccl", 1, "rsag")
        self.assertLess(r["last"], r["first"])
        self.assertGreater(r["packet_bytes"], 0)

    def test_ddp_gloo_cuda_buckets_two_ranks_rsag(self):
        r0, r1 = run_world("gloo", 2, "rsag")
        for k in r0["params"]:
            self.assertTrue(torch.equal(r0["params"][k], r1["params"][k]), k)
        self.assertLess(r0["last"], r0["first"])


if __name__ == "__main__":
    unittest.main()
