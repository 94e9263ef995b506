"""Smoke test of co3-aop's set-up flags (docs/AOP.md): --loss, --normalize, --device and the
dead-class columns, on one epoch of exact SGD and weighted-K with and without memory.

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
        for flag, value in (("--loss", "mse"), ("--normalize", "zscore"), ("--device", "tpu")):
            p = run("--out", out, flag, value)
            self.assertEqual(p.returncode, 2, flag)
            self.assertIn(f"{flag} '{value}'", p.stderr)

    def test_device_cuda(self):
        p = run("--out", os.path.join(SCRATCH, "cuda"), *SMOKE, "--device", "cuda")
        if p.returncode == 2 and "no CUDA device is available" in p.stderr:
            self.skipTest("no CUDA device: --device cuda refused, as it should be")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("device cuda", p.stdout)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[3:])
