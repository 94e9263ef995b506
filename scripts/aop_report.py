"""Tables, paired tests and strip plots of co3-aop grids (docs/AOP.md).

    aop_report.py OUT NAME=DIR[,DIR...] [NAME=DIR[,DIR...] ...]

Each DIR is a co3-aop --out directory (its results.csv); NAME labels the set-up. Several DIRs of
one set-up (a grid split over processes, e.g. by --policies) are merged; a run present in two of
them (exact SGD is in each) must have the same accuracy, as co3-aop is deterministic. Writes
OUT/summary.md (per set-up: a compact K × method table, the accuracy of the runs grouped by their
number of dead classes, then every method's mean ± std, per-run accuracies, runs with a dead
class and the paired tests against exact SGD), OUT/summary.csv (the same numbers, one row per set-up and method) and
OUT/strip_NAME.png (the per-run accuracies, one column per method).

Paired by seed: every method of a seed starts from exact SGD's weights and sees its batches, so
the per-seed difference removes the seed's own luck. Two exact two-sided tests of "no
difference", needing nothing beyond the standard library:
  - the sign test: the number of seeds on which the method wins against Binomial(n, 1/2), ties
    dropped;
  - the sign-flip permutation test: the observed |sum of differences| against all 2^n sums with
    the differences' signs flipped (exact for n <= 20; the seeds' differences are exchangeable
    in sign under the null hypothesis of a difference symmetric about zero)."""
import collections
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


def read_results(directories):
    """{label: {seed: (accuracy %, [dead classes])}} and the labels in co3-aop's order."""
    runs, order = {}, []
    for directory in directories:
        with open(os.path.join(directory, "results.csv")) as f:
            for r in csv.DictReader(f):
                if r["run"] not in runs:
                    runs[r["run"]] = {}
                    order.append(r["run"])
                dead = [c for c in range(10) if float(r[f"recall{c}"]) < DEAD_RECALL]
                run = (100 * float(r["final_test_accuracy"]), dead)
                seed = int(r["seed"])
                if runs[r["run"]].setdefault(seed, run) != run:
                    raise SystemExit(f"aop_report.py: {r['run']} seed {seed} differs between "
                                     f"{directories}")
                runs[r["run"]][seed] = run
    order.sort(key=method_order)
    return runs, order


def method_order(label):
    """co3-aop's order, whatever the split: exact, then policy, memory first, K descending."""
    if label == "exact":
        return (0,)
    policy, memory, k = label.split("-")
    return (1, POLICIES.index(policy), memory == "nomem", -int(k[1:]))


def method_rows(runs, order):
    """One dict per method, with its paired comparison against exact SGD."""
    exact = runs["exact"]
    rows = []
    for label in order:
        seeds = sorted(runs[label])
        acc = [runs[label][s][0] for s in seeds]
        row = dict(label=label, seeds=seeds, acc=acc, n=len(acc), mean=statistics.mean(acc),
                   std=statistics.stdev(acc) if len(acc) > 1 else 0.0,
                   dead_runs=sum(bool(runs[label][s][1]) for s in seeds))
        # Which classes die, and the accuracy of the runs where none did: is a method's gain
        # more than fewer runs in the dead-class cluster?
        row["dead_flags"] = [bool(runs[label][s][1]) for s in seeds]
        row["dead_ids"] = collections.Counter(c for s in seeds for c in runs[label][s][1])
        alive = [runs[label][s][0] for s in seeds if not runs[label][s][1]]
        row["alive_mean"] = statistics.mean(alive) if alive else float("nan")
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
         f"at test recall < {100 * DEAD_RECALL:.0f}% (which: class: runs); alive: the mean of the "
         "runs without one. Per run: seeds 0, 1, … in order.", "",
         "| weight gradient | memory | K | mean ± std | Δ | W/L | p sign | p flip | dead | which |"
         " alive | per run |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        g, m, k = describe(r["label"])
        per_run = " ".join(f"{a:.2f}" for a in r["acc"])
        cells = [g, m, k, f"{r['mean']:.2f} ± {r['std']:.2f}"]
        if r["label"] == "exact":
            cells += ["", "", "", ""]
        else:
            cells += [f"{r['diff']:+.2f}", f"{r['wins']}/{r['losses']}", f"{r['p_sign']:.3f}",
                      f"{r['p_flip']:.3f}"]
        which = ", ".join(f"{c}: {n}" for c, n in sorted(r["dead_ids"].items()))
        cells += [f"{r['dead_runs']}/{r['n']}", which, f"{r['alive_mean']:.2f}", per_run]
        s.append("| " + " | ".join(cells) + " |")
    return "\n".join(s) + "\n"


def compact(name, rows):
    """The docs' table: policies × memory down, K across; mean ± std, dead runs, Δ and p flip."""
    by = {r["label"]: r for r in rows}
    ks = sorted({int(l.split("-k")[1]) for l in by if l != "exact"}, reverse=True)
    e = by["exact"]
    s = [f"#### {name}", "",
         "| weight gradient | memory | " + " | ".join(f"K = {k}" for k in ks) + " |",
         "|---|---|" + "---|" * len(ks),
         f"| exact SGD (all 64 rows) | – | {e['mean']:.2f} ± {e['std']:.2f}, dead "
         f"{e['dead_runs']}/{e['n']} |" + " 〃 |" * (len(ks) - 1)]
    for policy in POLICIES:
        for memory in ("mem", "nomem"):
            cells = []
            for k in ks:
                r = by.get(f"{policy}-{memory}-k{k}")
                cells.append("–" if r is None else
                             f"{r['mean']:.2f} ± {r['std']:.2f}, dead {r['dead_runs']}/{r['n']}, "
                             f"Δ {r['diff']:+.2f} (p {r['p_flip']:.3f})")
            if any(c != "–" for c in cells):
                s.append(f"| {policy}-K | {'yes' if memory == 'mem' else 'no'} | " +
                         " | ".join(cells) + " |")
    return "\n".join(s) + "\n"


def clusters(name, runs):
    """Every run of a set-up grouped by its number of dead classes: the accuracy clusters."""
    groups = collections.defaultdict(list)
    for seeds in runs.values():
        for acc, dead in seeds.values():
            groups[len(dead)].append(acc)
    s = [f"Clusters, {name}: every run of every method by its number of dead classes.", "",
         "| dead classes | runs | mean | min | max |", "|---|---|---|---|---|"]
    for n in sorted(groups):
        g = groups[n]
        s.append(f"| {n} | {len(g)} | {statistics.mean(g):.2f} | {min(g):.2f} | {max(g):.2f} |")
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
        for dead, marker in ((False, "o"), (True, "x")):
            pts = [(x + o, a) for o, a, d in zip(offsets, r["acc"], r["dead_flags"]) if d == dead]
            if pts:
                ax.scatter(*zip(*pts), s=16, marker=marker, color=colors[policy], zorder=3,
                           facecolors=colors[policy] if filled or dead else "none")
        ax.hlines(r["mean"], x - 0.3, x + 0.3, color=colors[policy], lw=1)
    ax.axhline(rows[0]["mean"], color="black", lw=0.6, ls=":")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["label"] for r in rows], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("final test accuracy (%)")
    ax.set_title(f"{name}: one point per seed (filled: with memory; x: a dead class; bar: mean; "
                 "dotted: exact SGD)",
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
        runs, order = read_results(directory.split(","))
        rows = method_rows(runs, order)
        md.append(compact(name, rows) + "\n" + clusters(name, runs) + "\n" + markdown(name, rows))
        strip_plot(name, rows, os.path.join(out, f"strip_{name}.png"))
        for r in rows:
            table.append([name, r["label"], r["n"], f"{r['mean']:.4f}", f"{r['std']:.4f}",
                          r["dead_runs"], f"{r['alive_mean']:.4f}", *(f"{r[k]:.4f}" if k in r else "" for k in
                                            ("diff", "p_sign", "p_flip")),
                          r.get("wins", ""), r.get("losses", ""),
                          " ".join(f"{a:.2f}" for a in r["acc"])])
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["setup", "method", "runs", "mean", "std", "dead_runs", "alive_mean",
                    "diff_vs_exact",
                    "p_sign", "p_flip", "wins", "losses", "per_run"])
        w.writerows(table)


if __name__ == "__main__":
    if len(sys.argv) < 3 or any("=" not in a for a in sys.argv[2:]):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
