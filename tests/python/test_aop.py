"""Mem-AOP-GD through torch.ops.co3: with K = D and no memory the weight gradient is exact; the
memory is updated in place; bad arguments raise ValueError naming them. co3.AopLinear (the
Python module): exact at K = D, top-K with memory step by step against a float64 reference of
the algorithm (docs/AOP.md), eval and no_grad plain, a batch of another size refused.

Needs CO3_OPS_LIBRARY, the path of build/lib/libco3_ops.so; skipped (saying so) without it.
"""
import os
import unittest

import torch

LIBRARY = os.environ.get("CO3_OPS_LIBRARY")


@unittest.skipUnless(LIBRARY, "CO3_OPS_LIBRARY is not set: co3 torch.ops tests not run")
class AopOps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.ops.load_library(LIBRARY)

    def test_k_equals_d_without_memory_is_the_exact_gradient(self):
        torch.manual_seed(0)
        x, delta = torch.randn(64, 784), torch.randn(64, 10)
        for policy in ("topk", "weighted", "random"):
            grad, selected = torch.ops.co3.aop_weight_grad(x, delta, None, None, 64, policy, 0.01)
            torch.testing.assert_close(grad, delta.t() @ x, rtol=1e-4, atol=1e-4)
            self.assertEqual(sorted(selected.tolist()), list(range(64)))

    def test_memory_is_updated_in_place(self):
        torch.manual_seed(1)
        x, delta = torch.randn(16, 8), torch.randn(16, 3)
        mem_a, mem_b = torch.zeros(16, 8), torch.zeros(16, 3)
        _, selected = torch.ops.co3.aop_weight_grad(x, delta, mem_a, mem_b, 4, "topk", 0.04, 1.0)
        left_out = [i for i in range(16) if i not in set(selected.tolist())]
        # Rows left out keep √η·x (α = 1); the selected ones are cleared.
        torch.testing.assert_close(mem_a[left_out], 0.2 * x[left_out])
        self.assertEqual(mem_a[selected].abs().max().item(), 0.0)

    def test_topk_selection(self):
        scores = torch.tensor([0.5, 4.0, 1.0, 9.0], dtype=torch.float64)
        self.assertEqual(torch.ops.co3.aop_select(scores, 2, "topk").tolist(), [3, 1])

    def test_bad_arguments_raise_value_error(self):
        x, delta = torch.randn(8, 4), torch.randn(8, 3)
        with self.assertRaisesRegex(ValueError, "k = 9"):
            torch.ops.co3.aop_weight_grad(x, delta, None, None, 9, "topk", 0.01)
        with self.assertRaisesRegex(ValueError, "'best'"):
            torch.ops.co3.aop_weight_grad(x, delta, None, None, 2, "best", 0.01)


def reference_topk_steps(x_batches, delta_batches, k, lr):
    """docs/AOP.md's algorithm in float64, top-K with memory, α = 1: ΔW/η of every step."""
    mem_a = mem_b = None
    grads = []
    for x, delta in zip(x_batches, delta_batches):
        x, delta = x.double(), delta.double()
        a = lr ** 0.5 * x + (0 if mem_a is None else mem_a)
        b = lr ** 0.5 * delta + (0 if mem_b is None else mem_b)
        score = (a * a).sum(1) * (b * b).sum(1)
        # The K largest; ties to the smaller row (a stable sort of the negated scores).
        chosen = torch.sort(-score, stable=True).indices[:k]
        grads.append(b[chosen].t() @ a[chosen] / lr)
        keep = torch.ones(len(x), dtype=torch.bool)
        keep[chosen] = False
        mem_a, mem_b = a * keep[:, None], b * keep[:, None]
    return grads


@unittest.skipUnless(LIBRARY, "CO3_OPS_LIBRARY is not set: co3 torch.ops tests not run")
class AopLinearModule(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import co3  # loads the library named by CO3_OPS_LIBRARY
        cls.co3 = co3

    def test_k_equals_d_without_memory_matches_nn_linear(self):
        torch.manual_seed(3)
        plain = torch.nn.Linear(20, 5)
        torch.manual_seed(3)
        aop = self.co3.AopLinear(20, 5, k=16, memory=False)
        torch.testing.assert_close(aop.weight, plain.weight)  # the same initialization
        x, y = torch.randn(16, 20, requires_grad=True), torch.randint(0, 5, (16,))
        x2 = x.detach().clone().requires_grad_()
        torch.nn.functional.cross_entropy(plain(x), y).backward()
        torch.nn.functional.cross_entropy(aop(x2), y).backward()
        torch.testing.assert_close(aop.weight.grad, plain.weight.grad, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(aop.bias.grad, plain.bias.grad)
        torch.testing.assert_close(x2.grad, x.grad)

    def test_topk_with_memory_follows_the_reference_for_five_steps(self):
        torch.manual_seed(4)
        lr, k = 0.05, 3
        aop = self.co3.AopLinear(6, 4, k=k, policy="topk", memory=True, lr=lr)
        xs = [torch.randn(8, 6) for _ in range(5)]
        deltas = [torch.randn(8, 4) for _ in range(5)]
        want = reference_topk_steps(xs, deltas, k, lr)
        for x, delta, w in zip(xs, deltas, want):
            aop.zero_grad()
            # d(sum(y * delta))/dy = delta: the layer's output gradient is exactly `delta`.
            (aop(x) * delta).sum().backward()
            torch.testing.assert_close(aop.weight.grad.double(), w, rtol=1e-5, atol=1e-6)
        self.assertEqual(aop.step, 5)

    def test_eval_and_no_grad_are_plain_and_do_not_step(self):
        aop = self.co3.AopLinear(6, 4, k=2)
        x = torch.randn(8, 6)
        want = x @ aop.weight.t() + aop.bias
        with torch.no_grad():
            torch.testing.assert_close(aop(x), want)
        aop.eval()
        torch.testing.assert_close(aop(x), want)
        self.assertEqual((aop.step, aop.mem_a), (0, None))

    def test_a_batch_of_another_size_is_refused_until_reset(self):
        aop = self.co3.AopLinear(6, 4, k=2)
        aop(torch.randn(8, 6)).sum().backward()
        with self.assertRaisesRegex(ValueError, "a batch of 5 rows, but the memory holds 8"):
            aop(torch.randn(5, 6))
        aop.reset_memory()
        aop(torch.randn(5, 6)).sum().backward()

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "'best'"):
            self.co3.AopLinear(6, 4, k=2, policy="best")
        with self.assertRaisesRegex(ValueError, "k = 0"):
            self.co3.AopLinear(6, 4, k=0)
        aop = self.co3.AopLinear(6, 4, k=9, memory=False)  # K > D is the op's error
        with self.assertRaisesRegex(ValueError, "k = 9"):
            aop(torch.randn(8, 6)).sum().backward()


if __name__ == "__main__":
    unittest.main()
