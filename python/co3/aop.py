"""Mem-AOP-GD for Python: a drop-in for torch.nn.Linear whose weight gradient keeps K of the
batch's D outer products and carries the rest in a memory (docs/AOP.md; C++: co3::AopLinear).

    layer = co3.AopLinear(784, 10, k=32, policy="topk", memory=True, lr=0.01)
    opt = torch.optim.SGD(layer.parameters(), lr=0.01)   # the same η: SGD then applies ΔW exactly

The selection, the memory and ΔW are torch.ops.co3.aop_weight_grad's (CPU or CUDA); this module
only wires it into autograd. The bias and input gradients stay exact. Only training forwards with
autograd on take the approximate path and advance the step; eval() or no_grad is a plain linear
map. The memory is sized by the first training batch; a batch of another size raises ValueError
(drop the last partial batch, or call reset_memory()).
"""
import torch


class _AopLinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, layer):
        ctx.save_for_backward(x, weight)
        ctx.layer = layer
        ctx.has_bias = bias is not None
        return torch.nn.functional.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        layer = ctx.layer
        grad_out = grad_out.contiguous()
        # weight.grad = ΔW/η, so that SGD(lr = η) applies ΔW; the memory is updated in place.
        grad_w, _ = torch.ops.co3.aop_weight_grad(
            x.contiguous(), grad_out, layer.mem_a, layer.mem_b, layer.k, layer.policy,
            lr=layer.lr, alpha=layer.alpha, seed=layer.seed, step=layer.step)
        layer.step += 1
        grad_x = grad_out @ weight if ctx.needs_input_grad[0] else None
        grad_b = grad_out.sum(0) if ctx.has_bias else None
        return grad_x, grad_w, grad_b, None


class AopLinear(torch.nn.Module):
    """y = x Wᵀ + b for x [D, in_features], with Mem-AOP-GD's weight gradient in training."""

    def __init__(self, in_features, out_features, k, policy="topk", memory=True, alpha=1.0,
                 lr=0.01, seed=0, bias=True):
        super().__init__()
        if policy not in ("topk", "weighted", "random"):
            raise ValueError(f"policy {policy!r}: expected 'topk', 'weighted' or 'random'")
        if k < 1:
            raise ValueError(f"k = {k}: must be ≥ 1")
        self.in_features, self.out_features = in_features, out_features
        self.k, self.policy, self.memory = k, policy, memory
        self.alpha, self.lr, self.seed = alpha, lr, seed
        self.step = 0  # the selection's draws are a function of (seed, step, row)
        # PyTorch's default initialization, from torch.nn.Linear's own parameters.
        plain = torch.nn.Linear(in_features, out_features, bias=bias)
        self.weight = torch.nn.Parameter(plain.weight.detach().clone())
        self.bias = torch.nn.Parameter(plain.bias.detach().clone()) if bias else None
        self.mem_a = self.mem_b = None

    def reset_memory(self):
        """Forgets the carried outer products (the next batch may have another size)."""
        self.mem_a = self.mem_b = None

    def forward(self, x):
        if not (self.training and torch.is_grad_enabled()):
            return torch.nn.functional.linear(x, self.weight, self.bias)
        if x.dim() != 2:
            raise ValueError(f"x of shape {tuple(x.shape)}: AopLinear takes [D, in_features]")
        if self.memory:
            d = x.shape[0]
            if self.mem_a is None:
                self.mem_a = x.new_zeros(d, self.in_features, dtype=torch.float32)
                self.mem_b = x.new_zeros(d, self.out_features, dtype=torch.float32)
            elif self.mem_a.shape[0] != d:
                raise ValueError(f"a batch of {d} rows, but the memory holds {self.mem_a.shape[0]}:"
                                 " drop the last partial batch or call reset_memory()")
        return _AopLinearFunction.apply(x, self.weight, self.bias, self)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, k={self.k}, "
                f"policy={self.policy!r}, memory={self.memory}, alpha={self.alpha}, lr={self.lr}")
