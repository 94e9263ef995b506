"""The DDP hook's hierarchical exchange (CO3HookState(intra_group=..., inter_group=...)): inside a
machine the links are fast (NVLink), across machines they are slow, so only the cross-machine
step is compressed. Per bucket:

1. an uncompressed reduce-scatter inside the machine (`intra_dtype`: float32 or bfloat16): local
   rank l holds the machine's sum of piece l of the bucket (zero-padded to L equal pieces);
2. co3 among the ranks holding the same piece on every machine (`inter_group`): rsag or
   allgather by the state's rule for that group's size, averaging over the M machines; every
   rank of that group ends with the same bits;
3. an all-gather of the pieces inside the machine, and a division by L: every rank of the job
   holds the same bits.

Failures: co3's step raises on every rank of an inter group alike; then every rank of the job
hears of it (a status all-gather over the hook's process group, 8 bytes a rank) and all raise
the same error, so no rank waits in the final all-gather. A non-finite average (any machine's, any piece's) puts back this rank's
memories of the bucket (worker and shard) as they were, and their statistics, since GradScaler
skips the step on every rank.
"""
import torch
import torch.distributed as dist


def all_finite(t):
    """Whether every entry of `t` is finite, as a bool tensor on its device (no host read): from
    its smallest and largest entries (aminmax propagates NaN), one pass without a temporary of
    t's size; torch.isfinite(t).all() makes several (11 ms against 0.75 on 3.3M entries, one
    CPU thread). C++: co3::all_finite."""
    if t.numel() == 0:
        return torch.ones((), dtype=torch.bool, device=t.device)
    smallest, largest = torch.aminmax(t)
    return torch.isfinite(smallest) & torch.isfinite(largest)


def _snapshot(state, name):
    """The bucket's memories in both compressors (rsag's `name#s` and `name`, allgather's
    `name`), to put back after a skipped step."""
    kept = []
    for compressor in (state.compressor, state.shard_compressor):
        for n in compressor.names():
            if n == name or n.startswith(name + "#"):
                kept.append((compressor, n, compressor.memory(n).clone()))
    return kept


def _restore_unless(finite, kept, state, name):
    for compressor, n, before in kept:
        memory = compressor.memory(n)
        if memory.shape != before.shape:
            # rsag moved its cut after a finite piece (docs/DISTRIBUTED.md, "The shard cut"), and
            # the whole bucket is not finite: the memories, and so the cut, go back whole. A host
            # read, on such a step only; every rank of the job reads the same `finite`.
            if not bool(finite):
                compressor.set_memory(n, before)
            continue
        memory.copy_(torch.where(finite, memory, before))
    # Names this step created start at zero memory when the step is skipped.
    known = {(id(c), n) for c, n, _ in kept}
    for compressor in (state.compressor, state.shard_compressor):
        for n in compressor.names():
            if (n == name or n.startswith(name + "#")) and (id(compressor), n) not in known:
                memory = compressor.memory(n)
                memory.copy_(torch.where(finite, memory, torch.zeros_like(memory)))
    if state.compressor.refit != "every-step" and not bool(finite):
        for compressor in (state.compressor, state.shard_compressor):
            for n in compressor.names():
                if n == name or n.startswith(name + "#"):
                    compressor.restore_statistics(n)


def _raise_if_any_failed(failure, group, where, device):
    """Every rank of `group` (the whole job's) learns whether any of them failed (one small
    all-gather and its host read; a second with the messages when one did), and all raise the
    same error."""
    world = dist.get_world_size(group)
    text = (failure or "").encode()
    head = torch.tensor([len(text)], dtype=torch.int64, device=device)
    heads = [torch.empty_like(head) for _ in range(world)]
    dist.all_gather(heads, head, group=group)
    lengths = torch.cat(heads).tolist()
    if not any(lengths):
        return
    padded = torch.zeros(max(lengths), dtype=torch.uint8, device=device)
    padded[:len(text)] = torch.tensor(list(text), dtype=torch.uint8)
    messages = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(messages, padded, group=group)
    failed = [f"rank {dist.get_global_rank(group, r) if group is not None else r} failed "
              f"(across machines: {bytes(messages[r][:lengths[r]].tolist()).decode(errors='replace')})"
              for r in range(world) if lengths[r]]
    raise RuntimeError(f"{where}: " + "; ".join(failed))


def hierarchical_average(state, name, index, buffer):
    """Averages `buffer` (the bucket) over every rank of intra_group × inter_group in place and
    returns this rank's {"sent_bytes", "received_bytes", "packet_bytes"} of the co3 step across
    machines, "intra_bytes" sent inside the machine (its reduce-scatter and all-gather, each
    (L−1) pieces, by the ring's cost) and "entries"."""
    from . import compressed_allreduce
    intra, inter = state.intra_group, state.inter_group
    local, machines = dist.get_world_size(intra), dist.get_world_size(inter)
    entries = buffer.numel()
    piece = -(-entries // local)
    where = f"co3 DDP hook, bucket {index}"
    flat = torch.zeros(piece * local, dtype=state.intra_dtype, device=buffer.device)
    flat[:entries] = buffer.reshape(-1)
    mine = torch.empty(piece, dtype=state.intra_dtype, device=buffer.device)
    dist.reduce_scatter_tensor(mine, flat, group=intra)  # the machine's sum of piece l
    mine = mine.float()
    kept = _snapshot(state, name)
    failure, stats = None, {"sent_bytes": 0, "received_bytes": 0, "packet_bytes": 0}
    try:
        algorithm = state.algorithm_for(machines, piece)
        stats = compressed_allreduce([(name, mine)], state.compressor, algorithm,
                                     state.shard_compressor, inter)
    except (RuntimeError, ValueError) as e:  # co3's invalid_argument arrives as a ValueError
        failure = str(e)
    _raise_if_any_failed(failure, state.process_group, where, buffer.device)
    gathered = torch.empty(piece * local, dtype=torch.float32, device=buffer.device)
    dist.all_gather_into_tensor(gathered, mine, group=intra)
    average = gathered[:entries].div_(local)
    _restore_unless(all_finite(average), kept, state, name)
    buffer.copy_(average.view_as(buffer))
    return {"sent_bytes": stats["sent_bytes"], "received_bytes": stats["received_bytes"],
            "packet_bytes": stats["packet_bytes"], "entries": entries,
            "intra_bytes": (local - 1) * piece * (flat.element_size() + 4)}
