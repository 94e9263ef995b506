"""Start one process per rank (spawn), wait for them within a time bound, kill any that hang, and
check that every rank exited 0: what the multi-process tests share."""
import multiprocessing as mp


def run_ranks(test, target, args_of_rank, world, timeout_s, what=""):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=target, args=args_of_rank(r)) for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout_s)
    hung = [p for p in procs if p.is_alive()]
    for p in hung:
        p.kill()
        p.join()
    test.assertFalse(hung, f"{what}ranks still running after {timeout_s} s were killed")
    test.assertEqual([p.exitcode for p in procs], [0] * world, what)


def exit_after(fn, *args):
    """Run a rank's body and leave with os._exit: 1 (with the traceback) if it raised, else 0
    once everything is flushed, skipping the process group's teardown, which no test checks
    (in one CI run a rank outlived the time bound there after its peer had exited cleanly)."""
    import os
    import sys
    import traceback
    try:
        fn(*args)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
