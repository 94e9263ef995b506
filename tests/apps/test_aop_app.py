"""Smoke test of co3-aop's set-up flags (docs/AOP.md): --loss, --normalize, --device and the
dead-class columns, on one epoch of exact SGD and weighted-K with and without memory; the
per-epoch CSVs (accuracy and per-class recall every epoch) and --first-seed, which splits a grid
by seeds into parts that merge.

    test_aop_app.py CO3_AOP_BINARY SCRATCH_DIR

Needs Fashion-MNIST ($CO3_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist)."""
import csv
import math
import os
import re
import shutil
import subprocess
import sys
import unittest

BINARY, SCRATCH = sys.argv[1], sys.argv[2]
# softmax-ce's infimum: the first softmax all on the true class, log(e + 9) - 1 (train.h).
FLOOR = math.log(math.e + 9) - 1
SMOKE = ["--quick", "--seeds", "1", "--epochs", "1", "--policies", "weighted"]


def run(*args):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=300)


class AopApp(unittest.TestCase):
    outs = {}

    @classmethod
    def setUpClass(cls):
        shutil.rmtree(SCRATCH, ignore_errors=True)
        for name, flags in {"authors": ["--loss", "softmax-ce", "--normalize", "half"],
                            "plain": ["--loss", "ce", "--normalize", "mean-std"]}.items():
            out = os.path.join(SCRATCH, name)
            p = run("--out", out, *SMOKE, *flags)
            assert p.returncode == 0, p.stderr
            cls.outs[name] = out

    def results(self, name):
        with open(os.path.join(self.outs[name], "results.csv")) as f:
            return list(csv.DictReader(f))

    def epoch_losses(self, name, run_label):
        with open(os.path.join(self.outs[name], "runs", run_label + "-seed0.csv")) as f:
            return [float(r["train_loss"]) for r in csv.DictReader(f)]

    def test_one_row_per_run_with_dead_classes_counted_from_the_recalls(self):
        for name in self.outs:
            rows = self.results(name)
            self.assertEqual([r["run"] for r in rows],
                             ["exact", "weighted-mem-k16", "weighted-nomem-k16"])
            for r in rows:
                recall = [float(r[f"recall{c}"]) for c in range(10)]
                self.assertEqual(int(r["dead_classes"]), sum(x < 0.05 for x in recall))
                # Test accuracy is the class-size-weighted recall; Fashion-MNIST's test classes
                # have 1000 images each, so it is the plain mean.
                self.assertAlmostEqual(float(r["final_test_accuracy"]), sum(recall) / 10,
                                       places=5)

    def test_softmax_ce_cannot_go_below_its_floor_and_ce_does(self):
        for label in ("exact", "weighted-mem-k16", "weighted-nomem-k16"):
            for loss in self.epoch_losses("authors", label):
                self.assertGreaterEqual(loss, FLOOR - 1e-6, label)
        # Plain cross-entropy after an epoch of exact SGD is far below softmax-ce's floor: the
        # flag changed the loss.
        self.assertLess(self.epoch_losses("plain", "exact")[0], FLOOR - 0.5)

    def test_normalize_sets_the_inputs_statistics(self):
        def stats(name):
            with open(os.path.join(self.outs[name], "summary.md")) as f:
                m = re.search(r"mean (-?[\d.]+), std ([\d.]+)", f.read())
            return float(m.group(1)), float(m.group(2))
        mean, std = stats("authors")  # (x - 0.5) / 0.5 of pixels whose mean is 0.2860
        self.assertAlmostEqual(mean, (0.2860 - 0.5) / 0.5, delta=0.002)
        self.assertAlmostEqual(std, 0.3530 / 0.5, delta=0.002)
        mean, std = stats("plain")
        self.assertAlmostEqual(mean, 0.0, delta=0.002)
        self.assertAlmostEqual(std, 1.0, delta=0.002)

    def test_bad_values_name_themselves(self):
        out = os.path.join(SCRATCH, "bad")
        for flag, value in (("--loss", "mse"), ("--normalize", "zscore"), ("--device", "tpu"),
                            ("--first-seed", "-1")):
            p = run("--out", out, flag, value)
            self.assertEqual(p.returncode, 2, flag)
            self.assertIn(f"{flag} '{value}'", p.stderr)

    def test_every_epoch_keeps_its_accuracy_and_per_class_recall(self):
        out = os.path.join(SCRATCH, "epochs")
        p = run("--out", out, "--epochs", "2", "--seeds", "1", "--policies", "")
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(out, "runs", "exact-seed0.csv")) as f:
            epochs = list(csv.DictReader(f))
        self.assertEqual([int(e["epoch"]) for e in epochs], [1, 2])
        for e in epochs:
            recall = [float(e[f"recall{c}"]) for c in range(10)]
            self.assertEqual(int(e["dead_classes"]), sum(x < 0.05 for x in recall))
            self.assertAlmostEqual(float(e["test_accuracy"]), sum(recall) / 10, places=5)
        # The first epoch is not a copy of the last; the last is results.csv's row.
        self.assertNotEqual(epochs[0]["test_accuracy"], epochs[1]["test_accuracy"])
        final = self.results_of(out)[0]
        self.assertEqual(final["final_test_accuracy"], epochs[-1]["test_accuracy"])
        self.assertEqual([final[f"recall{c}"] for c in range(10)],
                         [epochs[-1][f"recall{c}"] for c in range(10)])

    def test_first_seed_runs_the_same_runs_as_the_whole_grid(self):
        whole, part = os.path.join(SCRATCH, "whole"), os.path.join(SCRATCH, "part")
        flags = ["--epochs", "1", "--policies", "random", "--ks", "8"]
        self.assertEqual(run("--out", whole, "--seeds", "3", *flags).returncode, 0)
        p = run("--out", part, "--first-seed", "2", "--seeds", "1", *flags)
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = self.results_of(whole)
        # Seeds outer: a grid stopped early keeps whole seeds, every method of each.
        self.assertEqual([(r["run"], r["seed"]) for r in rows],
                         [(m, str(s)) for s in range(3)
                          for m in ("exact", "random-mem-k8", "random-nomem-k8")])
        seed2 = [{k: v for k, v in r.items() if k != "seconds"} for r in rows[6:]]
        self.assertEqual(seed2, [{k: v for k, v in r.items() if k != "seconds"}
                                 for r in self.results_of(part)])
        for label in ("exact", "random-mem-k8", "random-nomem-k8"):
            with open(os.path.join(whole, "runs", f"{label}-seed2.csv")) as a, \
                    open(os.path.join(part, "runs", f"{label}-seed2.csv")) as b:
                self.assertEqual(a.read(), b.read(), label)
        self.assertEqual(os.listdir(os.path.join(part, "runs")).count("exact-seed0.csv"), 0)
        with open(os.path.join(part, "summary.md")) as f:
            self.assertIn("seeds 2-2", f.read())

    @staticmethod
    def results_of(out):
        with open(os.path.join(out, "results.csv")) as f:
            return list(csv.DictReader(f))

    def test_device_cuda(self):
        p = run("--out", os.path.join(SCRATCH, "cuda"), *SMOKE, "--device", "cuda")
        if p.returncode == 2 and "no CUDA device is available" in p.stderr:
            self.skipTest("no CUDA device: --device cuda refused, as it should be")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("device cuda", p.stdout)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[3:])
