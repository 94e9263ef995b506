"""A DDP communication hook that sends co3 packets instead of float32 gradients.

    import co3, torch.distributed as dist
    state = co3.CO3HookState(gamma=0.7, format="fp4", code="gennorm")
    ddp_model.register_comm_hook(state, co3.ddp_comm_hook)

Per bucket and iteration: the bucket is compressed with error feedback (memory keyed by the
bucket's index), the packets are all-gathered (their sizes first, then the payloads padded to
the largest), and every rank decodes all of them and averages in rank order into the bucket's
buffer, so all ranks hold the same bits. DDP rebuilds its buckets after the first iteration, so
the memory would be keyed by buckets that change: like PowerSGD, the hook runs a plain
all-reduce until `start_iter` iterations have passed.

Host reads per bucket: for CUDA buckets, the packet's length (its header) and the gathered sizes
(to size the second all-gather), and each decode waits for its status (a corrupt packet raises);
for CPU (Gloo) buckets these reads are free.
"""
import torch
import torch.distributed as dist


class CO3HookState:
    def __init__(self, process_group=None, gamma=0.7, start_iter=2, refit="every-step",
                 refit_every=1, average_decay=0.9, **config):
        from . import Compressor  # the package has loaded the library by now
        if start_iter < 2:
            raise ValueError("co3: start_iter must be >= 2: DDP rebuilds its buckets after the "
                             "first iteration, and the error memory is keyed by bucket")
        self.process_group = process_group
        self.start_iter = start_iter
        self.iter = 0
        self.compressor = Compressor(gamma=gamma, refit=refit, refit_every=refit_every,
                                     average_decay=average_decay, **config)
        # What went over the network from this rank, for reports.
        self.packet_bytes = 0       # co3 packets produced
        self.contributed_bytes = 0  # bytes this rank put into the collectives
        self.elements = 0           # gradient entries those bytes carry
        self.uncompressed_bytes = 0  # bytes of the warm-up all-reduces

    def _advance(self, bucket):
        if bucket.is_last():
            self.iter += 1


def _group_size(group):
    return dist.get_world_size(group) if group is not None else dist.get_world_size()


def ddp_comm_hook(state, bucket):
    """The hook itself: register it with `ddp_model.register_comm_hook(state, ddp_comm_hook)`.

    (DDP checks that the second parameter is named `bucket`.)
    """
    group = state.process_group
    world = _group_size(group)
    buffer = bucket.buffer()
    if state.iter < state.start_iter:
        state._advance(bucket)
        state.uncompressed_bytes += buffer.numel() * buffer.element_size()
        fut = dist.all_reduce(buffer, group=group, async_op=True).get_future()
        return fut.then(lambda f: f.value()[0].div_(world))

    packet = state.compressor.compress([(f"bucket{bucket.index()}", buffer)])
    state._advance(bucket)
    # A CUDA packet is a worst-case-sized buffer; its header holds the length (a host read).
    packet = packet[: torch.ops.co3.packet_size(packet)] if packet.is_cuda else packet
    size = torch.tensor([packet.numel()], dtype=torch.int64, device=packet.device)
    sizes = [torch.empty_like(size) for _ in range(world)]
    fut = dist.all_gather(sizes, size, group=group, async_op=True).get_future()

    def gather_and_average(_):
        lengths = [int(s.item()) for s in sizes]
        longest = max(lengths)
        padded = torch.zeros(longest, dtype=torch.uint8, device=packet.device)
        padded[: packet.numel()] = packet
        gathered = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(gathered, padded, group=group, async_op=True).get_future().wait()
        state.packet_bytes += packet.numel()
        state.contributed_bytes += 8 + longest
        state.elements += buffer.numel()
        # Decode-and-accumulate in rank order (the same float32 sum on every rank), one pass per
        # packet: on the GPU for CUDA buckets.
        total = torch.zeros(buffer.numel(), dtype=torch.float32, device=buffer.device)
        for rank in range(world):
            torch.ops.co3.decode_into(gathered[rank][: lengths[rank]], [total], accumulate=True)
        buffer.copy_(total.div_(world).view_as(buffer))
        return buffer

    return fut.then(gather_and_average)
