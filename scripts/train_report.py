"""Tables and plots of a co3-train grid (scripts/train_grid.sh): reads OUT/*.csv, writes
OUT/summary.md and OUT/accuracy_vs_epoch.png, OUT/accuracy_vs_bits.png, OUT/accuracy_vs_gamma.png.
Means are over the seeds found for each method. Usage: train_report.py OUT_DIR"""
import csv
import glob
import os
import re
import sys
from collections import defaultdict

import numpy as np


def read_runs(out):
    runs = defaultdict(dict)  # label -> seed -> rows
    for path in sorted(glob.glob(os.path.join(out, "*.csv"))):
        m = re.match(r"^(?:lenet|resnet8|resnet18)-(.*)-s(\d+)\.csv$", os.path.basename(path))
        if not m or path.endswith(".codes.csv"):
            continue
        with open(path) as f:
            rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
        if rows:
            runs[m.group(1)][int(m.group(2))] = rows
    return runs


def run_stats(rows):
    rounds = np.diff([0] + [r["round"] for r in rows])
    bits = np.average([r["bits_per_entry"] for r in rows], weights=rounds)
    n = rows[-1]["round"]
    return dict(acc=100 * rows[-1]["test_accuracy"], bits=bits, epochs=rows[-1]["epoch"],
                enc=1e3 * sum(r["encode_s"] for r in rows) / n, dec=1e3 * sum(r["decode_s"] for r in rows) / n)


def describe(label):
    m = re.match(r"co3-(\w+)-(\w+)-g([\d.]+)(.*)", label)
    if m:
        return f"CO3 {m.group(1)}, {m.group(2)} code, γ={m.group(3)}{m.group(4)}"
    m = re.match(r"powersgd-r(\d+)$", label)
    if m:
        return f"PowerSGD-style, rank {m.group(1)} (one user)"
    return {"fp32": "fp32 (uncompressed)", "bf16": "bf16 cast"}.get(label, label.replace("topk-", "top-k, ratio "))


def order(label):
    kinds = ["fp32", "bf16", "topk", "powersgd", "co3-fp4", "co3-e3m2", "co3-e4m3", "co3-e5m2"]
    return (next((i for i, k in enumerate(kinds) if label.startswith(k)), 99), label)


def main(out):
    runs = read_runs(out)
    # Runs still going (a grid in progress) would mix epochs: only complete ones are tabled.
    full = max((rows[-1]["epoch"] for seeds in runs.values() for rows in seeds.values()), default=0)
    runs = {l: {s: r for s, r in seeds.items() if r[-1]["epoch"] >= full - 1e-9} for l, seeds in runs.items()}
    runs = {l: seeds for l, seeds in runs.items() if seeds}
    if not runs:
        sys.exit(f"train_report.py: no run CSV in {out}")
    table = {}
    for label, seeds in runs.items():
        st = [run_stats(rows) for rows in seeds.values()]
        table[label] = {k: (np.mean([s[k] for s in st]), np.std([s[k] for s in st])) for k in st[0]}
        table[label]["seeds"] = sorted(seeds)
    # Seeds move accuracy by about a point, more than the differences sought, so the gap to fp32
    # is taken seed by seed (same split, batches and initial parameters) and then averaged: a
    # non-iid run (co3-train names it "...-dir<alpha>") against the fp32 run of the same split.
    for label, seeds in runs.items():
        split = re.search(r"-dir[\d.]+$", label)
        ref = runs.get("fp32" + (split.group(0) if split else ""), {})
        fp32 = {seed: run_stats(rows)["acc"] for seed, rows in ref.items()}
        d = [run_stats(rows)["acc"] - fp32[seed] for seed, rows in seeds.items() if seed in fp32]
        table[label]["delta"] = (np.mean(d), np.std(d)) if d else (float("nan"), 0)
    lines = ["| method | seeds | epochs | final test acc % (mean ± sd) | Δ vs fp32, same seed (pts) | bits/entry sent | encode ms/round | decode ms/round |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label in sorted(table, key=order):
        t = table[label]
        lines.append(f"| {describe(label)} | {len(t['seeds'])} | {t['epochs'][0]:.0f} | {t['acc'][0]:.2f} ± {t['acc'][1]:.2f} | "
                     f"{t['delta'][0]:+.2f} ± {t['delta'][1]:.2f} | {t['bits'][0]:.3f} | {t['enc'][0]:.1f} | {t['dec'][0]:.1f} |")
    md = ["# co3-train results", "", f"From `{out}`; 10 users, LeNet unless the file names say otherwise.", "",
          "## Accuracy and bits per entry", ""] + lines

    # The claims of the issue, checked against the measured means.
    md += ["", "## Against the targets", ""]
    for label, pts, bits in (("co3-fp4-gennorm-g0.7", 0.5, 1.8), ("co3-fp4-histogram-g0.7", 0.5, 1.8),
                             ("co3-e5m2-gennorm-g0.7", 0.3, 6.0),
                             ("co3-e5m2-histogram-g0.7", 0.3, 6.0)):
        if label in table:
            d, b = table[label]["delta"][0], table[label]["bits"][0]
            ok = "meets" if d >= -pts and b <= bits else "misses"
            md.append(f"- {describe(label)}: {d:+.2f} pts vs fp32 (same seeds) at {b:.3f} bits/entry — {ok} "
                      f"(target: within {pts} pts at ≤ {bits} bits)")

    gammas = sorted((float(re.search(r"-g([\d.]+)$", l).group(1)), l) for l in table
                    if re.match(r"co3-fp4-gennorm-g[\d.]+$", l))
    if gammas:
        md += ["", "## Effect of γ (fp4, GenNorm code and scale)", "", "| γ | acc % | Δ vs fp32 (pts) | bits/entry |", "|---:|---:|---:|---:|"]
        md += [f"| {g:g} | {table[l]['acc'][0]:.2f} ± {table[l]['acc'][1]:.2f} | {table[l]['delta'][0]:+.2f} ± {table[l]['delta'][1]:.2f} | "
               f"{table[l]['bits'][0]:.3f} |" for g, l in gammas]

    codes = glob.glob(os.path.join(out, "*.codes.csv"))
    if codes:
        per = defaultdict(list)
        for path in codes:
            with open(path) as f:
                for r in csv.DictReader(f):
                    per[r["format"]].append([float(r[k]) for k in ("histogram", "gennorm", "normal", "laplace", "entropy")])
        md += ["", "## Code source: payload bits per entry on the same gradients (co3::stats, GenNorm scale)", "",
               f"Mean over {len(next(iter(per.values())))} sampled rounds of user 0's raw gradient "
               f"({', '.join(os.path.basename(c) for c in codes)}); per tensor, code tables included, packet header not.", "",
               "| format | histogram | GenNorm | Normal | Laplace | entropy of the codes |", "|---|---:|---:|---:|---:|---:|"]
        for fmt in ("fp4", "e3m2", "e4m3", "e5m2"):
            if fmt in per:
                v = np.mean(per[fmt], axis=0)
                md.append(f"| {fmt} | " + " | ".join(f"{x:.3f}" for x in v) + " |")

    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    plot(out, runs, table, gammas)


def plot(out, runs, table, gammas):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for label in sorted(runs, key=order):
        seeds = list(runs[label].values())
        n = min(len(r) for r in seeds)
        ep = [r["epoch"] for r in seeds[0][:n]]
        acc = np.mean([[100 * r["test_accuracy"] for r in rows[:n]] for rows in seeds], axis=0)
        ax.plot(ep, acc, marker=".", label=f"{describe(label)} ({table[label]['bits'][0]:.2f} b)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy %")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy_vs_epoch.png"), dpi=120)

    fig, ax = plt.subplots(figsize=(7, 5))
    for label in sorted(table, key=order):
        t = table[label]
        ax.errorbar(t["bits"][0], t["delta"][0], yerr=t["delta"][1], fmt="o", capsize=3)
        ax.annotate(label, (t["bits"][0], t["delta"][0]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("bits per entry sent (headers included)")
    ax.set_ylabel("final test accuracy − fp32's, same seed (points)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy_vs_bits.png"), dpi=120)

    if gammas:
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.errorbar([g for g, _ in gammas], [table[l]["delta"][0] for _, l in gammas],
                    yerr=[table[l]["delta"][1] for _, l in gammas], fmt="o-", capsize=3)
        ax.set_xlabel("memory decay γ (fp4, GenNorm)")
        ax.set_ylabel("accuracy − fp32's, same seed (points)")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "accuracy_vs_gamma.png"), dpi=120)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "train-results")
