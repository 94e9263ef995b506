"""Tables, paired tests and strip plots of co3-aop grids (docs/AOP.md).

    aop_report.py OUT NAME=DIR [NAME=DIR ...]

Each DIR is a co3-aop --out directory (its results.csv); NAME labels the set-up. Writes
OUT/summary.md (per set-up: mean ± std, per-run accuracies, runs with a dead class and the paired
tests against exact SGD), OUT/summary.csv (the same numbers, one row per set-up and method) and
OUT/strip_NAME.png (the per-run accuracies, one column per method).

Paired by seed: every method of a seed starts from exact SGD's weights and sees its batches, so
the per-seed difference removes the seed's own luck. Two exact two-sided tests of "no
difference", needing nothing beyond the standard library:
  - the sign test: the number of seeds on which the method wins against Binomial(n, 1/2), ties
    dropped;
  - the sign-flip permutation test: the observed |sum of differences| against all 2^n sums with
    the differences' signs flipped (exact for n <= 20; the seeds' differences are exchangeable
    in sign under the null hypothesis of a difference symmetric about zero)."""
import csv
import itertools
import math
import os
import statistics
import sys

POLICIES = ("topk", "weighted", "random")
DEAD_RECALL = 0.05  # a class below this test recall is never (or almost never) predicted


def sign_test(diffs):
    """Two-sided exact sign test: (wins, losses, p)."""
    wins = sum(d > 0 for d in diffs)
    losses = sum(d < 0 for d in diffs)
    n = wins + losses
    if n == 0:
        return wins, losses, 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2**n
    return wins, losses, min(1.0, 2 * tail)


def sign_flip_test(diffs):
    """Two-sided exact paired permutation test of the mean difference."""
    if len(diffs) > 20:
        raise ValueError("sign_flip_test enumerates 2^n sign patterns: n <= 20")
    observed = abs(sum(diffs))
    # A relative tolerance: sums equal on paper must not differ by rounding.
    tol = 1e-9 * max(1.0, sum(abs(d) for d in diffs))
    hits = sum(abs(sum(s * d for s, d in zip(signs, diffs))) >= observed - tol
               for signs in itertools.product((1, -1), repeat=len(diffs)))
    return hits / 2 ** len(diffs)


def read_results(directory):
    """{label: {seed: (accuracy %, dead classes)}} and the labels in co3-aop's order."""
    runs, order = {}, []
    with open(os.path.join(directory, "results.csv")) as f:
        for r in csv.DictReader(f):
            if r["run"] not in runs:
                runs[r["run"]] = {}
                order.append(r["run"])
            dead = sum(float(r[f"recall{c}"]) < DEAD_RECALL for c in range(10))
            runs[r["run"]][int(r["seed"])] = (100 * float(r["final_test_accuracy"]), dead)
    return runs, order


def method_rows(runs, order):
    """One dict per method, with its paired comparison against exact SGD."""
    exact = runs["exact"]
    rows = []
    for label in order:
        seeds = sorted(runs[label])
        acc = [runs[label][s][0] for s in seeds]
        row = dict(label=label, seeds=seeds, acc=acc, n=len(acc), mean=statistics.mean(acc),
                   std=statistics.stdev(acc) if len(acc) > 1 else 0.0,
                   dead_runs=sum(runs[label][s][1] > 0 for s in seeds))
        if label != "exact":
            paired = [s for s in seeds if s in exact]
            diffs = [runs[label][s][0] - exact[s][0] for s in paired]
            row["diff"] = statistics.mean(diffs)
            row["wins"], row["losses"], row["p_sign"] = sign_test(diffs)
            row["p_flip"] = sign_flip_test(diffs)
        rows.append(row)
    return rows


def describe(label):
    if label == "exact":
        return "exact SGD", "–", "64"
    policy, memory, k = label.split("-")
    return f"{policy}-K", "yes" if memory == "mem" else "no", k[1:]


def markdown(name, rows):
    s = [f"### {name}", "",
         f"{rows[0]['n']} seeds; test accuracy (%) after the last epoch. Δ: mean over seeds of "
         "(method − exact SGD) on the same seed; W/L: seeds won/lost against exact SGD; p: exact "
         "two-sided sign test and sign-flip permutation test of Δ = 0. Dead: runs with a class "
         f"at test recall < {100 * DEAD_RECALL:.0f}%.", "",
         "| weight gradient | memory | K | mean ± std | Δ | W/L | p sign | p flip | dead | per run |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        g, m, k = describe(r["label"])
        per_run = " ".join(f"{a:.2f}" for a in r["acc"])
        cells = [g, m, k, f"{r['mean']:.2f} ± {r['std']:.2f}"]
        if r["label"] == "exact":
            cells += ["", "", "", ""]
        else:
            cells += [f"{r['diff']:+.2f}", f"{r['wins']}/{r['losses']}", f"{r['p_sign']:.3f}",
                      f"{r['p_flip']:.3f}"]
        cells += [f"{r['dead_runs']}/{r['n']}", per_run]
        s.append("| " + " | ".join(cells) + " |")
    return "\n".join(s) + "\n"


def strip_plot(name, rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"exact": "black", "topk": "C0", "weighted": "C1", "random": "C2"}
    fig, ax = plt.subplots(figsize=(11, 4.2))
    for x, r in enumerate(rows):
        policy = r["label"].split("-")[0]
        filled = policy == "exact" or "-mem-" in r["label"]
        offsets = [(i - (r["n"] - 1) / 2) * 0.5 / max(r["n"], 1) for i in range(r["n"])]
        ax.scatter([x + o for o in offsets], r["acc"], s=14, color=colors[policy],
                   facecolors=colors[policy] if filled else "none", zorder=3)
        ax.hlines(r["mean"], x - 0.3, x + 0.3, color=colors[policy], lw=1)
    ax.axhline(rows[0]["mean"], color="black", lw=0.6, ls=":")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["label"] for r in rows], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("final test accuracy (%)")
    ax.set_title(f"{name}: one point per seed (filled: with memory; bar: mean; dotted: exact SGD)",
                 fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(out, specs):
    os.makedirs(out, exist_ok=True)
    md, table = [], []
    for spec in specs:
        name, directory = spec.split("=", 1)
        rows = method_rows(*read_results(directory))
        md.append(markdown(name, rows))
        strip_plot(name, rows, os.path.join(out, f"strip_{name}.png"))
        for r in rows:
            table.append([name, r["label"], r["n"], f"{r['mean']:.4f}", f"{r['std']:.4f}",
                          r["dead_runs"], *(f"{r[k]:.4f}" if k in r else "" for k in
                                            ("diff", "p_sign", "p_flip")),
                          r.get("wins", ""), r.get("losses", ""),
                          " ".join(f"{a:.2f}" for a in r["acc"])])
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["setup", "method", "runs", "mean", "std", "dead_runs", "diff_vs_exact",
                    "p_sign", "p_flip", "wins", "losses", "per_run"])
        w.writerows(table)


if __name__ == "__main__":
    if len(sys.argv) < 3 or any("=" not in a for a in sys.argv[2:]):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
