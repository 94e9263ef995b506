"""Run by test_pip_install.sh inside a fresh virtual environment that holds the installed co3
wheel and the same torch, from a directory outside the checkout, with no PYTHONPATH and no CO3_*
variable: what a user who ran `pip install` gets. Exits non-zero on the first failed check."""
import os
import sys
import tempfile

import torch
import torch.multiprocessing as mp


def check(cond, what):
    if not cond:
        sys.exit(f"pip_install_check: FAILED: {what}")
    print(f"pip_install_check: ok: {what}")


def loads_without_the_toolkit():
    """Every library libco3_ops.so needs is one `import torch` has loaded, one beside torch
    (its RUNPATH, $ORIGIN/../torch/lib) or the C/C++ runtime: a user's machine need not have
    the CUDA toolkit on its loader path (this machine's ldconfig has it, so dlopen alone would
    not tell)."""
    import subprocess
    import co3
    dynamic = subprocess.run(["readelf", "-d", co3.LIBRARY], check=True, capture_output=True,
                             text=True).stdout
    needed = [line.split("[")[1].split("]")[0] for line in dynamic.splitlines() if "(NEEDED)" in line]
    with open("/proc/self/maps") as f:
        loaded = {os.path.basename(line.split()[-1]) for line in f if "/" in line}
    torch_lib = os.path.join(os.path.dirname(torch.__file__), "lib")
    runtime = ("libc.so", "libm.so", "libstdc++.so", "libgcc_s.so", "libpthread.so", "libdl.so",
               "librt.so", "ld-linux")
    missing = [n for n in needed if n not in loaded and not os.path.exists(os.path.join(torch_lib, n))
               and not n.startswith(runtime)]
    check("$ORIGIN/../torch/lib" in dynamic, "the library's RUNPATH points at torch's libraries")
    check(not missing, f"every NEEDED library is torch's or already loaded ({needed}; missing {missing})")


def round_trips():
    import co3
    here = os.path.dirname(co3.__file__)
    check(here.startswith(sys.prefix + os.sep), f"co3 imported from the environment ({here})")
    check(os.path.dirname(co3.LIBRARY) == here, f"library loaded from the package ({co3.LIBRARY})")
    info = co3.build_info()
    check(info.get("torch") == torch.__version__,
          f"build record names the running torch ({info.get('torch')})")
    check(isinstance(info.get("cuda_kernels"), bool), f"build record says cuda_kernels={info.get('cuda_kernels')}")

    g = torch.Generator().manual_seed(7)
    x = torch.randn(4099, generator=g) * 1e-2
    # Independent oracles: torch's own conversions, at scale 1 with nearest rounding.
    for fmt, dtype in (("bf16", torch.bfloat16), ("e5m2", torch.float8_e5m2)):
        (y,) = co3.decode(co3.encode(x, format=fmt, scale=1.0))
        check(torch.equal(y, x.to(dtype).float()), f"{fmt} round trip equals torch's {dtype} conversion")
    w = [torch.randn(3, 5, generator=g), torch.randn(7, generator=g).half()]
    out = co3.decode(co3.encode(w, format="e4m3", code="gennorm"))
    check([(t.shape, t.dtype) for t in out] == [(t.shape, t.dtype) for t in w],
          "a two-tensor packet restores shapes and dtypes")


def rank_main(rank, world, init_file, out_dir):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    import co3

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    reference = [p.detach().clone() for p in model.parameters()]
    ddp = DDP(model)
    state = co3.CO3HookState(gamma=0.9, format="bf16")
    ddp.register_comm_hook(state, co3.ddp_comm_hook)
    g = torch.Generator().manual_seed(100 + rank)
    x, y = torch.randn(16, 64, generator=g), torch.randint(0, 8, (16,), generator=g)
    # The hook all-reduces plainly for start_iter (2) iterations while DDP settles its buckets;
    # the third backward is coded by co3 (no optimizer step: the same gradients each time).
    for _ in range(state.start_iter + 1):
        ddp.zero_grad()
        torch.nn.functional.cross_entropy(ddp(x), y).backward()

    # The exact average of the ranks' gradients, by a plain all-reduce on an undecorated copy.
    plain = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    with torch.no_grad():
        for p, r in zip(plain.parameters(), reference):
            p.copy_(r)
    torch.nn.functional.cross_entropy(plain(x), y).backward()
    worst = 0.0
    for p, q in zip(model.parameters(), plain.parameters()):
        dist.all_reduce(q.grad)
        q.grad /= world
        worst = max(worst, ((p.grad - q.grad).abs().max() / q.grad.abs().max().clamp_min(1e-12)).item())
    grads = torch.cat([p.grad.flatten() for p in model.parameters()])
    gathered = [torch.empty_like(grads) for _ in range(world)]
    dist.all_gather(gathered, grads)
    same = all(torch.equal(gathered[0], t) for t in gathered)
    with open(os.path.join(out_dir, f"rank{rank}.txt"), "w") as f:
        f.write(f"{int(same)} {worst} {int(bool(torch.isfinite(grads).all()))} {state.packet_bytes}\n")
    dist.barrier()  # both ranks done with every collective before either leaves


def rank_exit(rank, world, init_file, out_dir):
    """rank_main, then os._exit: the process group's teardown at interpreter exit can abort
    (Gloo worker threads outliving the interpreter, pytorch/pytorch#179291; seen here once in
    five runs as "terminate called without an active exception" after every check had
    passed), which is not what this test checks. tests/python/ranks.py does the same."""
    import traceback
    code = 0
    try:
        rank_main(rank, world, init_file, out_dir)
    except BaseException:  # noqa: BLE001 - reported, then the exit code says it
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def ddp_hook():
    world = 2
    with tempfile.TemporaryDirectory() as out:
        mp.spawn(rank_exit, args=(world, os.path.join(out, "rendezvous"), out), nprocs=world)
        for rank in range(world):
            same, worst, finite, sent = open(os.path.join(out, f"rank{rank}.txt")).read().split()
            check(int(sent) > 0, f"rank {rank}: the hook coded its gradients ({sent} packet bytes)")
            check(same == "1" and finite == "1", f"rank {rank}: the hook's gradients are finite and the same on every rank")
            # bf16 keeps 8 significant bits: 2^-8 of the largest entry, with room for the sum.
            check(float(worst) < 2 ** -7, f"rank {rank}: the hook's average is the true average to bf16 precision ({float(worst):.2e})")


if __name__ == "__main__":
    round_trips()
    loads_without_the_toolkit()
    ddp_hook()
