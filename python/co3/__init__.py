"""co3 for PyTorch: gradient compression by float conversion, Huffman coding and error feedback.

    import co3
    packet = co3.encode([w.grad, b.grad], format="fp4", code="gennorm")  # uint8 tensor
    grads = co3.decode(packet)                     # the tensors, shapes and dtypes restored

Keyword names mirror the `co3` command line (format, rounding, scale, code, chunk,
max_code_length, seed, non_finite, threads) plus shared_code, entries_per_symbol (0: automatic)
and zero_block (symbols a block of a zero-block map, docs/FORMAT.md §6b; 0: none; CPU and CUDA
tensors alike). The work is done by the C++
library registered as torch.ops.co3 (see README.md); CUDA tensors are coded by co3's kernels on
the current stream (in a build with them; else staged through host memory, which synchronizes).
"""
from . import _library

# The loaded library's path, and what it was built against (co3_build_info.json; None for a
# library without a record, e.g. one named by $CO3_OPS_LIBRARY from an older build).
LIBRARY, _BUILD_INFO = _library.load()

import torch  # noqa: E402

from .ddp import ddp_comm_hook, CO3HookState  # noqa: E402,F401
from .aop import AopLinear  # noqa: E402,F401

__all__ = ["build_info", "encode", "encode_into", "max_packet_bytes", "decode", "decode_into", "decode_accumulate", "packet_size", "stats",
           "Compressor", "compressed_allreduce",
           "ddp_comm_hook", "CO3HookState", "AopLinear"]


def build_info():
    """What the loaded library was built against: {"co3", "torch", "torch_cuda", "cuda_kernels",
    "cuda_architectures", "cuda_compiler", "library"}; cuda_kernels False means a CPU-only
    build (no CUDA compiler at build time), which refuses CUDA tensors."""
    return dict(_BUILD_INFO or {}, library=LIBRARY)


def _config(format="e5m2", rounding="nearest", scale="gennorm", code="histogram", chunk=4096,
            max_code_length=0, seed=0, shared_code=False, non_finite="error", threads=0,
            entries_per_symbol=0, zero_block=0):
    # The order of the C++ schema's arguments (Compressor.create takes them by position).
    return dict(format=format, rounding=rounding, scale=str(scale), code=code, chunk=chunk,
                max_code_length=max_code_length, seed=seed, shared_code=shared_code,
                non_finite=non_finite, threads=threads, entries_per_symbol=entries_per_symbol,
                zero_block=zero_block)


def encode(tensors, **config):
    """One packet (a 1-D uint8 tensor on the inputs' device) for a tensor or a list of them."""
    if isinstance(tensors, torch.Tensor):
        tensors = [tensors]
    return torch.ops.co3.encode(list(tensors), **_config(**config))


def encode_into(tensors, buffer, **config):
    """encode's packet written at the start of `buffer` (a 1-D uint8 tensor on the inputs'
    device, at least max_packet_bytes long); on CUDA no allocation and no synchronization:
    packet_size(buffer) reads where it ends."""
    if isinstance(tensors, torch.Tensor):
        tensors = [tensors]
    torch.ops.co3.encode_into(list(tensors), buffer, **_config(**config))


def max_packet_bytes(tensors, **config):
    """The worst-case packet size of these tensors under this configuration (sizes only)."""
    if isinstance(tensors, torch.Tensor):
        tensors = [tensors]
    return torch.ops.co3.max_packet_bytes(list(tensors), **_config(**config))


def decode(packet, device=None, as_float32=False, threads=0):
    """The list of tensors a packet holds, with their shapes and dtypes."""
    return torch.ops.co3.decode(packet, device=device, as_float32=as_float32, threads=threads)


def decode_into(packet, outputs, threads=0, accumulate=False):
    """Decodes into existing tensors (any floating dtype, strides, device), in place; with
    `accumulate`, adds the decoded values to them (out += value)."""
    if isinstance(outputs, torch.Tensor):
        outputs = [outputs]
    torch.ops.co3.decode_into(packet, list(outputs), threads=threads, accumulate=accumulate)


def decode_accumulate(packets, outputs, labels=None, threads=0):
    """outputs += the sum of the packets' tensors, in list order (the same bits on every rank
    that decodes the same list); CUDA packets are decoded on the device and checked with one
    wait for the whole list. An error names the packet (labels[r] when given)."""
    if isinstance(outputs, torch.Tensor):
        outputs = [outputs]
    torch.ops.co3.decode_accumulate(list(packets), list(outputs), labels=list(labels or []),
                                    threads=threads)


def packet_size(packet):
    """The packet's length from its header (a packet tensor may carry padding after it)."""
    return torch.ops.co3.packet_size(packet)


def stats(tensor, **config):
    """GenNorm fit, entropy and bits per entry per code source for one tensor."""
    return dict(torch.ops.co3.stats(tensor, **_config(**config)))


class Compressor:
    """Error feedback with memory decay gamma, per named gradient (u = g + γe; e ← u − Q(u)).

    refit: "every-step", "every-n-steps" (with refit_every) or "running-average" (with
    average_decay) chooses where the GenNorm fit behind the scale comes from (README.md).
    non_finite defaults to "propagate" here (not "error" as for encode): a gradient holding NaN
    or Inf decodes to them, its memory unchanged, so that a loss scaler skips the step.
    """

    def __init__(self, gamma=1.0, refit="every-step", refit_every=1, average_decay=0.9, **config):
        config.setdefault("non_finite", "propagate")
        self.config = _config(**config)
        self.refit = refit
        self._impl = torch.classes.co3.Compressor.create(
            *self.config.values(), float(gamma), refit, int(refit_every), float(average_decay))

    def compress(self, named_grads):
        """A packet for a dict {name: gradient} (or a list of (name, gradient) pairs)."""
        items = list(named_grads.items()) if isinstance(named_grads, dict) else list(named_grads)
        return self._impl.compress([n for n, _ in items], [g for _, g in items])

    def memory(self, name):
        """The error memory of `name` (the tensor itself: writing it changes the memory)."""
        return self._impl.memory(name)

    def set_memory(self, name, memory):
        """Replaces the error memory of a known `name` with `memory` (float32; any shape, which
        the next compress of `name` must then give): rsag's balanced cut moves its shards'
        memories so, and a skipped step puts them back so (docs/DISTRIBUTED.md)."""
        self._impl.set_memory(name, memory)

    def names(self):
        return list(self._impl.names())

    def restore_statistics(self, name):
        """Puts the GenNorm fit and running averages of `name` back as they were before the last
        compress() that coded it: for a step skipped after all (e.g. another rank's gradient was
        not finite). The memory is the caller's to restore, from the copy it took before."""
        self._impl.restore_statistics(name)

    @property
    def step(self):
        return self._impl.step()

    def state_dict(self):
        return dict(self._impl.state_dict())

    def load_state_dict(self, state):
        self._impl.load_state_dict(dict(state))


def compressed_allreduce(named_grads, compressor, algorithm="allgather", shard_compressor=None,
                         group=None):
    """Averages the gradients over the ranks of `group` (default: the default group) in place
    with co3 packets, blocking (docs/DISTRIBUTED.md): `algorithm` "allgather" or "rsag" (which
    needs `shard_compressor`, the summed shards' error memory). Returns {"packet_bytes",
    "sent_bytes", "received_bytes", "entries", "summed_packet_bytes", "summed_entries", "recut"}
    of this rank (the last three rsag's, 0 for allgather: its stage-2 packet, of the shard this
    rank sums, and 1 where the step moved the shard cut for the next, docs/DISTRIBUTED.md)."""
    import torch.distributed as dist
    items = list(named_grads.items()) if isinstance(named_grads, dict) else list(named_grads)
    group = group if group is not None else dist.distributed_c10d._get_default_group()
    stats = torch.ops.co3.compressed_allreduce(
        group.boxed(), compressor._impl,
        shard_compressor._impl if shard_compressor is not None else None,
        [n for n, _ in items], [g for _, g in items], algorithm=algorithm)
    return dict(zip(("packet_bytes", "sent_bytes", "received_bytes", "entries",
                     "summed_packet_bytes", "summed_entries", "recut"), stats))
