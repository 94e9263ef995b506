"""A DDP communication hook that sends co3 packets instead of float32 gradients.

    import co3, torch.distributed as dist
    state = co3.CO3HookState(gamma=0.7, format="fp4", code="gennorm")
    ddp_model.register_comm_hook(state, co3.ddp_comm_hook)

Per bucket and iteration: the bucket is compressed with error feedback (memory keyed by the
bucket's index), every rank announces [kind, length, entries, tensors] (kind 0: a packet; 1: the
message of a failure on that rank), the payloads are all-gathered padded to the largest, and every rank
decode-accumulates all packets in rank order into a float32 sum and divides, so all ranks hold
the same bits (docs/DISTRIBUTED.md). DDP rebuilds its buckets after the first iteration, so the
memory would be keyed by buckets that change: like PowerSGD, the hook runs a plain all-reduce
until `start_iter` iterations have passed.

Failures: non-finite gradients are coded as such (`non_finite="propagate"`, the default here),
so every rank's average holds Inf/NaN wherever any rank's gradient did, as with a plain
all-reduce, and GradScaler skips the step everywhere. Every rank then puts back the bucket's
error memory as it was before the step (a rank whose own gradient was finite would otherwise
move it for a step that is never applied): a device copy of the memory per bucket, no sync. Any other failure on one rank (an encoder
error, a bad dtype, out of memory) still takes part in both collectives, as a message, and every
rank raises the same error naming that rank: no rank is left waiting. Announced lengths are
checked against a bound before anything is allocated.

Host reads per CUDA bucket: two. The gathered announcements (they size the second all-gather)
and the status of the batched decode (one wait for all ranks' packets; a corrupt packet raises).
The packet's own length is read on the device from its header. For CPU (Gloo) buckets these
reads are free.

`algorithm="rsag"` (the reduce-scatter + all-gather of shard packets, chosen by `"auto"` from 3
ranks on for buckets of at least one chunk per rank) cuts the bucket into one shard per rank on
chunk boundaries; rank s receives every rank's packet of shard s (one all-to-all of the exact
lengths, announced in one small all-gather), sums them, codes the sum with its own error memory
(`shard_compressor`: `shard_gamma`, `shard_format`, keyed by bucket), and the summed shards are
all-gathered; every rank decodes the same N packets. Its bytes per rank stay flat in N. It runs
in C++ (torch.ops.co3.compressed_allreduce, blocking inside the hook); docs/DISTRIBUTED.md.
"""
import torch
import torch.distributed as dist

from .hierarchical import all_finite

_PACKET, _FAILURE = 0, 1
ALGORITHMS = ("auto", "allgather", "rsag")


class CO3HookState:
    """The hook's state: the worker compressor (error memory per bucket), and for rsag the
    shard compressor (the summed shard's error memory per bucket, with its own γ `shard_gamma`
    and format `shard_format`, by default the worker's)."""

    def __init__(self, process_group=None, gamma=0.7, start_iter=2, refit="every-step",
                 refit_every=1, average_decay=0.9, non_finite="propagate", algorithm="auto",
                 shard_gamma=None, shard_format=None, intra_group=None, inter_group=None,
                 intra_dtype=torch.float32, bits_per_entry=None, **config):
        """bits_per_entry=B asks for B bits per gradient entry per packet (scale="rate:B", the
        rate scale policy: README.md), with the error feedback of `gamma` as always."""
        from . import Compressor  # the package has loaded the library by now
        if bits_per_entry is not None:
            if "scale" in config:
                raise ValueError("co3: give bits_per_entry or scale, not both")
            config["scale"] = f"rate:{float(bits_per_entry)!r}"
        if start_iter < 2:
            raise ValueError("co3: start_iter must be >= 2: DDP rebuilds its buckets after the "
                             "first iteration, and the error memory is keyed by bucket")
        if algorithm not in ALGORITHMS:
            raise ValueError(f"co3: algorithm {algorithm!r} unknown (one of {ALGORITHMS})")
        if (intra_group is None) != (inter_group is None):
            raise ValueError("co3: intra_group and inter_group go together (hierarchical)")
        if intra_dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"co3: intra_dtype {intra_dtype} (float32 or bfloat16)")
        self.process_group = process_group
        self.intra_group, self.inter_group, self.intra_dtype = intra_group, inter_group, intra_dtype
        self.start_iter = start_iter
        self.iter = 0
        self.plain_until = 0  # plain all-reduces until this iteration (start_iter, a resume)
        self.algorithm = algorithm
        self.compressor = Compressor(gamma=gamma, refit=refit, refit_every=refit_every,
                                     average_decay=average_decay, non_finite=non_finite, **config)
        shard_config = dict(config)
        if shard_format is not None:
            shard_config["format"] = shard_format
        self.shard_compressor = Compressor(
            gamma=gamma if shard_gamma is None else shard_gamma, refit=refit,
            refit_every=refit_every, average_decay=average_decay, non_finite=non_finite,
            **shard_config)
        self.sent_bytes = 0         # bytes of this rank's that reached other ranks
        self.received_bytes = 0     # other ranks' bytes that reached this rank
        self.intra_bytes = 0        # hierarchical: bytes sent inside the machine, uncompressed
        # What went over the network from this rank, for reports.
        self.packet_bytes = 0       # co3 packets produced
        self.contributed_bytes = 0  # allgather: its piece of the all-gathers; rsag: sent_bytes
        self.elements = 0           # gradient entries those bytes carry
        self.summed_packet_bytes = 0  # rsag: of packet_bytes, the summed shards' (stage 2)
        self.summed_elements = 0      # rsag: the entries of those summed shards
        self.uncompressed_bytes = 0  # bytes of the warm-up all-reduces

    def _advance(self, bucket):
        if bucket.is_last():
            self.iter += 1

    _COUNTERS = ("packet_bytes", "contributed_bytes", "elements", "uncompressed_bytes",
                 "sent_bytes", "received_bytes", "intra_bytes", "summed_packet_bytes",
                 "summed_elements")

    def state_dict(self):
        """What a resumed job needs to continue with its error feedback: the iteration count,
        both compressors' state (error memories, step, GenNorm fits and running averages, per
        bucket) and the byte counters, as a flat dict of tensors and ints (torch.save it)."""
        state = {"iter": self.iter, "algorithm": self.algorithm}
        state.update({k: getattr(self, k) for k in self._COUNTERS})
        state.update({"compressor/" + k: v for k, v in self.compressor.state_dict().items()})
        state.update({"shard_compressor/" + k: v
                      for k, v in self.shard_compressor.state_dict().items()})
        return state

    def load_state_dict(self, state):
        """Replaces this state's memories, statistics, iteration count and counters with a
        state_dict()'s. The configuration (format, γ, refit, algorithm) stays this object's;
        a checkpoint of another algorithm is refused, its memories being keyed otherwise."""
        state = dict(state)
        if state.get("algorithm", self.algorithm) != self.algorithm:
            raise ValueError(f"co3: a checkpoint of algorithm {state['algorithm']!r} loaded into a "
                             f"hook state of algorithm {self.algorithm!r}")
        known = {"iter", "algorithm", *self._COUNTERS}
        unknown = [k for k in state if k not in known and
                   not k.startswith(("compressor/", "shard_compressor/"))]
        if unknown or "iter" not in state:
            raise ValueError(f"co3: not a CO3HookState state_dict (unknown keys {unknown[:3]}, "
                             f"or no 'iter')")
        self.compressor.load_state_dict({k[len("compressor/"):]: v for k, v in state.items()
                                         if k.startswith("compressor/")})
        self.shard_compressor.load_state_dict({k[len("shard_compressor/"):]: v
                                               for k, v in state.items()
                                               if k.startswith("shard_compressor/")})
        self.iter = int(state["iter"])
        for k in self._COUNTERS:
            setattr(self, k, int(state.get(k, 0)))
        # A resumed job's DDP builds its buckets anew and rebuilds them after its first
        # iteration, so that iteration's buckets need not match the memories' keys: it runs a
        # plain all-reduce, and the memories apply from the next one.
        self.plain_until = self.iter + 1

    def algorithm_for(self, world, entries):
        """The algorithm a bucket of `entries` entries uses among `world` ranks ("auto": rsag
        from 3 ranks on for a bucket of at least one chunk per rank, by byte counts; the same
        choice on every rank, whose buckets are alike)."""
        if self.algorithm != "auto":
            return self.algorithm
        return torch.ops.co3.choose_algorithm(world, entries, self.compressor.config["chunk"])


def _group_size(group):
    return dist.get_world_size(group) if group is not None else dist.get_world_size()


def payload_bound(entries):
    """A length no co3 packet of one tensor of `entries` entries reaches (codes of at most 24
    bits and chunk-table entries stay under 4 bytes an entry; a code table and the descriptors
    under 2 MiB): what an announced length is checked against before any allocation."""
    return 4 * entries + (2 << 20)


def _payload(state, name, buffer):
    """This rank's payload and its announcement [kind, length, entries, tensors], without a host
    read: a
    CUDA packet is a worst-case-sized buffer whose header holds its length (or a failure
    record's, FORMAT.md §11, which every receiver raises as the sender's error)."""
    try:
        packet = state.compressor.compress([(name, buffer)])
        if packet.is_cuda:
            length = packet[8:16].view(torch.int64)
        else:
            length = torch.tensor([packet.numel()], dtype=torch.int64)
        kind = _PACKET
    except Exception as e:  # noqa: BLE001 - whatever failed, the peers must hear of it
        packet = torch.tensor(list(f"{type(e).__name__}: {e}".encode()), dtype=torch.uint8)
        length = torch.tensor([packet.numel()], dtype=torch.int64)
        kind = _FAILURE
    device = buffer.device
    head = torch.tensor([kind, 0, buffer.numel(), 1], dtype=torch.int64, device=device)
    head[1:2].copy_(length, non_blocking=True)
    return packet.to(device), head


def _check_heads(heads, bucket_index):
    """Every rank runs the same checks on the same announcements, so all raise or none does."""
    where = f"co3 DDP hook, bucket {bucket_index}"
    entries = heads[0][2]
    for rank, (kind, length, n, tensors) in enumerate(heads):
        if kind not in (_PACKET, _FAILURE):
            raise RuntimeError(f"{where}: rank {rank} announced payload kind {kind} "
                               "(not a co3 hook?)")
        if n != entries or tensors != 1:
            raise RuntimeError(f"{where}: rank {rank}'s bucket holds {n} entries, rank 0's "
                               f"{entries} (the ranks' models or buckets differ)")
        if not 0 <= length <= payload_bound(n):
            raise RuntimeError(f"{where}: rank {rank} announced {length} bytes, beyond the "
                               f"bound of {payload_bound(n)} for {n} entries")


def _hierarchical(state, bucket, name, index):
    """Reduce-scatter in the machine, co3 across machines, all-gather in the machine (blocking;
    co3/hierarchical.py): a completed future."""
    from .hierarchical import hierarchical_average
    state._advance(bucket)
    fut = torch.futures.Future()
    try:
        stats = hierarchical_average(state, name, index, bucket.buffer())
    except (RuntimeError, ValueError) as e:
        fut.set_exception(e if str(e).startswith("co3 DDP hook") else
                          RuntimeError(f"co3 DDP hook, bucket {index}: {e}"))
        return fut
    _count(state, stats)
    state.intra_bytes += stats["intra_bytes"]
    fut.set_result(bucket.buffer())
    return fut


def _count(state, stats):
    state.packet_bytes += stats["packet_bytes"]
    state.contributed_bytes += stats["sent_bytes"]
    state.sent_bytes += stats["sent_bytes"]
    state.received_bytes += stats["received_bytes"]
    state.elements += stats["entries"]
    state.summed_packet_bytes += stats.get("summed_packet_bytes", 0)
    state.summed_elements += stats.get("summed_entries", 0)


def _rsag(state, bucket, group, name, index):
    """The reduce-scatter + all-gather of shard packets, in C++ (blocking): a completed future."""
    from . import compressed_allreduce
    buffer = bucket.buffer()
    state._advance(bucket)
    fut = torch.futures.Future()
    try:
        stats = compressed_allreduce([(name, buffer)], state.compressor, "rsag",
                                     state.shard_compressor, group)
    except (RuntimeError, ValueError) as e:  # co3's invalid_argument arrives as a ValueError
        fut.set_exception(RuntimeError(f"co3 DDP hook, bucket {index}: {e}"))
        return fut
    _count(state, stats)
    fut.set_result(buffer)
    return fut


def ddp_comm_hook(state, bucket):
    """The hook itself: register it with `ddp_model.register_comm_hook(state, ddp_comm_hook)`.

    (DDP checks that the second parameter is named `bucket`.)
    """
    group = state.process_group
    world = _group_size(group)
    buffer = bucket.buffer()
    if state.iter < max(state.start_iter, state.plain_until):
        state._advance(bucket)
        state.uncompressed_bytes += buffer.numel() * buffer.element_size()
        fut = dist.all_reduce(buffer, group=group, async_op=True).get_future()
        return fut.then(lambda f: f.value()[0].div_(world))

    index = bucket.index()
    name = f"bucket{index}"
    if state.intra_group is not None:
        return _hierarchical(state, bucket, name, index)
    if state.algorithm_for(world, buffer.numel()) == "rsag":
        return _rsag(state, bucket, group, name, index)
    # The memory before this step, to put back if the averaged gradient is not finite.
    before = (state.compressor.memory(name).clone() if name in state.compressor.names()
              else None)
    packet, head = _payload(state, name, buffer)
    state._advance(bucket)
    heads = [torch.empty_like(head) for _ in range(world)]
    fut = dist.all_gather(heads, head, group=group, async_op=True).get_future()

    def gather_and_average(_):
        announced = torch.stack(heads).tolist()  # host read 1: sizes the next collective
        _check_heads(announced, index)
        lengths = [head[1] for head in announced]
        mine = lengths[dist.get_rank(group)]
        longest = max(lengths)
        padded = torch.zeros(longest, dtype=torch.uint8, device=buffer.device)
        padded[:mine] = packet[:mine]
        gathered = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(gathered, padded, group=group, async_op=True).get_future().wait()
        failures = [f"rank {r} failed: {bytes(gathered[r][:lengths[r]].cpu().tolist()).decode(errors='replace')}"
                    for r in range(world) if announced[r][0] == _FAILURE]
        if failures:
            raise RuntimeError(f"co3 DDP hook, bucket {index}: " + "; ".join(failures))
        state.packet_bytes += mine
        state.contributed_bytes += head.numel() * head.element_size() + longest
        state.sent_bytes += (world - 1) * (head.numel() * head.element_size() + longest)
        state.received_bytes += (world - 1) * (head.numel() * head.element_size() + longest)
        state.elements += buffer.numel()
        # Decode-and-accumulate in rank order (the same float32 sum on every rank), one pass per
        # packet, on the GPU for CUDA buckets; host read 2: one status wait for all packets.
        total = torch.zeros(buffer.numel(), dtype=torch.float32, device=buffer.device)
        try:
            torch.ops.co3.decode_accumulate([gathered[r][:lengths[r]] for r in range(world)],
                                            [total], labels=[f"rank {r}'s packet"
                                                             for r in range(world)])
        except RuntimeError as e:
            raise RuntimeError(f"co3 DDP hook, bucket {index}: {e}") from e
        if name in state.compressor.names():  # a skipped step leaves the memory as it was
            memory = state.compressor.memory(name)
            kept = before if before is not None else torch.zeros_like(memory)
            finite = all_finite(total)
            # On the CPU the check is free and a finite step (nearly every one) puts nothing
            # back; on a GPU `where` keeps it on the device, with no host read.
            if finite.device.type != "cpu" or not bool(finite):
                memory.copy_(torch.where(finite, memory, kept.view_as(memory)))
            # ... and the fit and averages that later steps' scales come from. Only refits other
            # than every-step carry them, and those staged the bucket through the host already,
            # so this host read adds no new kind of wait.
            if state.compressor.refit != "every-step" and not bool(finite):
                state.compressor.restore_statistics(name)
        buffer.copy_(total.div_(world).view_as(buffer))
        return buffer

    return fut.then(gather_and_average)
