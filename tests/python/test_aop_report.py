"""The paired tests of scripts/aop_report.py against values worked out by hand."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from aop_report import sign_flip_test, sign_test  # noqa: E402


class SignTest(unittest.TestCase):
    def test_all_wins_of_ten(self):
        # P(X = 10) + P(X = 0) for X ~ Binomial(10, 1/2) = 2 / 1024.
        self.assertEqual(sign_test([0.5] * 10), (10, 0, 2 / 1024))

    def test_eight_of_ten(self):
        # 2 · (1 + 10 + 45) / 1024 = 112 / 1024.
        self.assertEqual(sign_test([1.0] * 8 + [-1.0] * 2), (8, 2, 112 / 1024))

    def test_ties_are_dropped_and_an_even_split_is_one(self):
        self.assertEqual(sign_test([0.0, 0.0, 1.0, -2.0]), (1, 1, 1.0))
        self.assertEqual(sign_test([0.0, 0.0]), (0, 0, 1.0))


class SignFlipTest(unittest.TestCase):
    def test_all_positive_differences_are_the_most_extreme_pattern(self):
        # Only the identity and the all-flipped pattern reach |sum| = 10.
        self.assertEqual(sign_flip_test([1.0] * 10), 2 / 1024)

    def test_small_case_by_enumeration(self):
        # d = (3, 1, 1): |sums| over 8 patterns are 5, 3, 3, 1, 1, 3, 3, 5; |5| reached twice.
        self.assertEqual(sign_flip_test([3.0, 1.0, 1.0]), 2 / 8)
        # d = (1, -1): sums 0, 2, -2, 0; observed 0, so every pattern is as extreme.
        self.assertEqual(sign_flip_test([1.0, -1.0]), 1.0)

    def test_a_large_outlier_decides_it_unlike_the_sign_test(self):
        d = [-0.1] * 7 + [5.0] * 3  # loses on 7 seeds, gains a lot on 3
        self.assertGreater(sign_test(d)[2], 0.3)
        # |sum| = 14.3 is reached only when the three 5.0 share a sign: 2 · 2^7 of 2^10.
        self.assertEqual(sign_flip_test(d), 256 / 1024)

    def test_refuses_what_it_cannot_enumerate(self):
        with self.assertRaises(ValueError):
            sign_flip_test([1.0] * 21)


if __name__ == "__main__":
    unittest.main()
