"""scripts/aop_report.py: the paired tests against values worked out by hand; the merge of a
grid run in parts (by seed) and its by-epoch table on synthetic co3-aop directories."""
import csv
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from aop_report import main, parse_args, sign_flip_test, sign_test  # noqa: E402


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


RECALL_HEADER = [f"recall{c}" for c in range(10)]


def write_part(directory, curves):
    """A co3-aop --out directory: curves {(label, seed): [accuracy per epoch]}; class 6 is dead
    (recall 0) and the others share the accuracy, so that the recalls average to it."""
    os.makedirs(os.path.join(directory, "runs"))
    with open(os.path.join(directory, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "policy", "memory", "k", "seed", "final_test_accuracy",
                    "dead_classes", *RECALL_HEADER, "seconds"])
        for (label, seed), accs in curves.items():
            recalls = lambda a: [a * 10 / 9 if c != 6 else 0.0 for c in range(10)]  # noqa: E731
            w.writerow([label, "", "", "", seed, accs[-1], 1, *recalls(accs[-1]), 1.0])
            with open(os.path.join(directory, "runs", f"{label}-seed{seed}.csv"), "w",
                      newline="") as g:
                r = csv.writer(g)
                r.writerow(["epoch", "train_loss", "test_accuracy", "dead_classes",
                            *RECALL_HEADER])
                for e, a in enumerate(accs, 1):
                    r.writerow([e, 1.0, a, 1, *recalls(a)])


class MergedParts(unittest.TestCase):
    # Five epochs; exact SGD climbs from 0.50 by 0.01 an epoch on every seed; top-K with memory
    # is 0.02 below it on seeds 0-1 (part a) and 0.03 above it from epoch 4 on seeds 2-3 (part b).
    exact = [0.50, 0.51, 0.52, 0.53, 0.54]
    mem_a = [a - 0.02 for a in exact]
    mem_b = [0.49, 0.50, 0.51, 0.56, 0.57]

    def report(self, parts):
        with tempfile.TemporaryDirectory() as d:
            for name, curves in parts.items():
                write_part(os.path.join(d, "grid", name), curves)
            main(*parse_args([os.path.join(d, "out"), "authors=" + os.path.join(d, "grid"),
                              "--at", "2,4,10"]))
            with open(os.path.join(d, "out", "epochs.csv")) as f:
                rows = list(csv.DictReader(f))
            self.assertTrue(os.path.exists(os.path.join(d, "out", "epochs_authors.png")))
            return {(int(r["epoch"]), r["method"]): r for r in rows}

    def test_two_seed_parts_merge_into_one_paired_table_by_epoch(self):
        rows = self.report({
            "a": {("exact", 0): self.exact, ("topk-mem-k32", 0): self.mem_a,
                  ("exact", 1): self.exact, ("topk-mem-k32", 1): self.mem_a},
            "b": {("exact", 2): self.exact, ("topk-mem-k32", 2): self.mem_b,
                  ("exact", 3): self.exact, ("topk-mem-k32", 3): self.mem_b}})
        # Epochs 2 and 4 of --at, 10 not reached, and the last (5) always.
        self.assertEqual(sorted({e for e, _ in rows}), [2, 4, 5])
        e2, e4 = rows[(2, "topk-mem-k32")], rows[(4, "topk-mem-k32")]
        self.assertEqual(int(e2["runs"]), 4)
        # Epoch 2: every seed 1-2 points below (−0.02, −0.02, −0.01, −0.01): mean −1.5, 0/4.
        self.assertAlmostEqual(float(e2["diff_vs_exact"]), -1.5, places=4)
        self.assertEqual((e2["wins"], e2["losses"]), ("0", "4"))
        # Epoch 4: −2, −2, +3, +3 points: mean +0.5, 2/2, sign test p 1.
        self.assertAlmostEqual(float(e4["diff_vs_exact"]), 0.5, places=4)
        self.assertEqual((e4["wins"], e4["losses"], e4["p_sign"]), ("2", "2", "1.0000"))
        self.assertEqual(rows[(5, "exact")]["per_run"], "54.00 54.00 54.00 54.00")
        self.assertEqual(rows[(5, "exact")]["dead_runs"], "4")

    def test_a_run_that_differs_between_parts_is_refused(self):
        other = [0.50, 0.51, 0.99, 0.53, 0.54]  # the same final accuracy, another epoch 3
        with self.assertRaisesRegex(SystemExit, "exact seed 0 differs"):
            self.report({"a": {("exact", 0): self.exact, ("topk-mem-k32", 0): self.mem_a},
                         "b": {("exact", 0): other, ("topk-mem-k32", 0): self.mem_a}})


if __name__ == "__main__":
    unittest.main()
