"""Mem-AOP-GD through torch.ops.co3: with K = D and no memory the weight gradient is exact; the
memory is updated in place; bad arguments raise ValueError naming them.

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


if __name__ == "__main__":
    unittest.main()
