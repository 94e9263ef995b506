"""Tables, paired tests and plots of co3-aop grids (docs/AOP.md).

    aop_report.py OUT [--at 4,10,20,30] NAME=DIR[,DIR...] [NAME=DIR[,DIR...] ...]

Each DIR is a co3-aop --out directory (its results.csv and runs/), or a directory above several
(every results.csv beneath it is read); NAME labels the set-up. All the parts of one set-up (a
grid split over processes or machines by policy, K or seed, as scripts/aop_grid.sh does) are
merged; a run present in two of them (exact SGD is in each) must have the same accuracy at
every epoch, as co3-aop is deterministic. Writes
  - OUT/summary.md: per set-up a compact K × method table after the last epoch, the same at the
    epochs of --at (those the runs reached), the accuracy of the runs grouped by their number of
    dead classes, the per-class recalls at those epochs, every epoch's Δ against exact SGD (where
    the curves cross), then every method's mean ± std, per-run accuracies, runs with a dead
    class and the paired tests against exact SGD;
  - OUT/summary.csv: the last epoch's numbers, one row per set-up and method;
  - OUT/epochs.csv: the same at every epoch of --at and the last (column `epoch`);
  - OUT/strip_NAME.png: the per-run final accuracies, one column per method;
  - OUT/epochs_NAME.png: test accuracy against epoch, mean ± std over seeds, exact SGD and every
    policy with (solid) and without (dashed) memory, one panel per K; below it the mean number
    of dead classes per run.

Paired by seed: every method of a seed starts from exact SGD's weights and sees its batches, so
the per-seed difference removes the seed's own luck. Two exact two-sided tests of "no
difference", needing nothing beyond the standard library:
  - the sign test: the number of seeds on which the method wins against Binomial(n, 1/2), ties
    dropped;
  - the sign-flip permutation test: the observed |sum of differences| against all 2^n sums with
    the differences' signs flipped (exact for n <= 20; the seeds' differences are exchangeable
    in sign under the null hypothesis of a difference symmetric about zero)."""
import argparse
import collections
import csv
import itertools
import math
import os
import statistics

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


def result_dirs(directories):
    """Every co3-aop --out directory at or beneath the given ones, in a stable order."""
    found = []
    for top in directories:
        if not os.path.isdir(top):
            raise SystemExit(f"aop_report.py: {top} is not a directory")
        for here, dirs, files in os.walk(top):
            dirs.sort()
            if "results.csv" in files:
                found.append(here)
    if not found:
        raise SystemExit(f"aop_report.py: no results.csv in {directories}")
    return found


def dead_of(row):
    """The classes of a CSV row with test recall < DEAD_RECALL."""
    return [c for c in range(10) if float(row[f"recall{c}"]) < DEAD_RECALL]


def read_curve(directory, label, seed):
    """[(accuracy %, [dead classes], [recall per class]), …] per epoch from
    runs/LABEL-seedSEED.csv."""
    with open(os.path.join(directory, "runs", f"{label}-seed{seed}.csv")) as f:
        rows = list(csv.DictReader(f))
    if rows and "recall0" not in rows[0]:
        raise SystemExit(f"aop_report.py: {directory}/runs has no per-class recalls (an older "
                         "co3-aop wrote it)")
    return [(100 * float(r["test_accuracy"]), dead_of(r),
             [float(r[f"recall{c}"]) for c in range(10)]) for r in rows]


def read_results(directories):
    """{label: {seed: (accuracy %, [dead classes])}} after the last epoch, the per-epoch curves
    {label: {seed: [(accuracy %, [dead classes], [recalls]), …]}} and the labels in co3-aop's
    order."""
    runs, curves, order = {}, {}, []
    for directory in result_dirs(directories):
        with open(os.path.join(directory, "results.csv")) as f:
            for r in csv.DictReader(f):
                if r["run"] not in runs:
                    runs[r["run"]], curves[r["run"]] = {}, {}
                    order.append(r["run"])
                run = (100 * float(r["final_test_accuracy"]), dead_of(r))
                seed = int(r["seed"])
                curve = read_curve(directory, r["run"], seed)
                if (runs[r["run"]].setdefault(seed, run) != run or
                        curves[r["run"]].setdefault(seed, curve) != curve):
                    raise SystemExit(f"aop_report.py: {r['run']} seed {seed} differs between "
                                     f"two parts of {directories} (one is {directory})")
    order.sort(key=method_order)
    return runs, curves, order


def at_epoch(curves, epoch):
    """The runs as read_results gives them, after `epoch` (1-based) instead of the last."""
    return {label: {seed: c[epoch - 1] for seed, c in seeds.items()}
            for label, seeds in curves.items()}


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


def epochs_table(name, curves, order, at):
    """Method down, epoch across: mean ± std, dead runs, Δ against exact SGD, wins/losses and
    the sign-flip p (the sign test's p is in epochs.csv)."""
    by_epoch = {e: {r["label"]: r for r in method_rows(at_epoch(curves, e), order)} for e in at}
    s = [f"#### {name}: by epoch (Δ: wins/losses, p sign flip)", "",
         "| weight gradient | memory | K | " + " | ".join(f"epoch {e}" for e in at) + " |",
         "|---|---|---|" + "---|" * len(at)]
    for label in order:
        g, m, k = describe(label)
        cells = []
        for e in at:
            r = by_epoch[e][label]
            cell = f"{r['mean']:.2f} ± {r['std']:.2f}, dead {r['dead_runs']}/{r['n']}"
            if label != "exact":
                cell += f", Δ {r['diff']:+.2f} ({r['wins']}/{r['losses']}, p {r['p_flip']:.3f})"
            cells.append(cell)
        s.append(f"| {g} | {m} | {k} | " + " | ".join(cells) + " |")
    return "\n".join(s) + "\n", by_epoch


def delta_by_epoch(name, curves, order, last):
    """Where the curves cross: every epoch's Δ against exact SGD and wins/losses, per method."""
    methods = [label for label in order if label != "exact"]
    s = [f"#### {name}: Δ against exact SGD (points) at every epoch, wins/losses", "",
         "| epoch | exact SGD | " + " | ".join(methods) + " |",
         "|---|---|" + "---|" * len(methods)]
    for e in range(1, last + 1):
        rows = {r["label"]: r for r in method_rows(at_epoch(curves, e), order)}
        s.append(f"| {e} | {rows['exact']['mean']:.2f} | " +
                 " | ".join(f"{rows[m]['diff']:+.2f} ({rows[m]['wins']}/{rows[m]['losses']})"
                            for m in methods) + " |")
    return "\n".join(s) + "\n"


def recalls_table(name, curves, order, at):
    """The mechanism, measured: per method and epoch, each class's test recall (mean over seeds)
    and which classes are dead in how many runs."""
    s = [f"#### {name}: per-class test recall (%), mean over seeds", "",
         "| method | epoch | " + " | ".join(f"class {c}" for c in range(10)) + " | dead (class: runs) |",
         "|---|---|" + "---|" * 11]
    for label in order:
        for e in at:
            seeds = sorted(curves[label])
            recall = [statistics.mean(curves[label][sd][e - 1][2][c] for sd in seeds)
                      for c in range(10)]
            dead = collections.Counter(c for sd in seeds for c in curves[label][sd][e - 1][1])
            s.append(f"| {label} | {e} | " + " | ".join(f"{100 * r:.1f}" for r in recall) +
                     " | " + (", ".join(f"{c}: {n}" for c, n in sorted(dead.items())) or "none") +
                     " |")
    first, last = at[0], at[-1]
    s += ["", f"Dead classes between epoch {first} and {last}, over all runs of a method: revived "
          f"(dead at {first}, alive at {last}), died (alive at {first}, dead at {last}), kept "
          "(dead at both).", "",
          "| method | revived | died | kept |", "|---|---|---|---|"]
    for label in order:
        moves = collections.Counter()
        for c in curves[label].values():
            before, after = set(c[first - 1][1]), set(c[last - 1][1])
            moves.update(revived=len(before - after), died=len(after - before),
                         kept=len(before & after))
        s.append(f"| {label} | {moves['revived']} | {moves['died']} | {moves['kept']} |")
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


def epochs_plot(name, curves, order, path):
    """Accuracy and dead classes against epoch, mean ± std over seeds, one column per K."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"exact": "black", "topk": "C0", "weighted": "C1", "random": "C2"}
    ks = sorted({int(l.split("-k")[1]) for l in order if l != "exact"}, reverse=True) or [None]
    fig, axes = plt.subplots(2, len(ks), figsize=(5.2 * len(ks), 6.4), squeeze=False,
                             sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})

    def band(ax_acc, ax_dead, label, **style):
        seeds = sorted(curves[label])
        epochs = min(len(curves[label][s]) for s in seeds)
        x = range(1, epochs + 1)
        acc = [[curves[label][s][e][0] for s in seeds] for e in range(epochs)]
        mean = [statistics.mean(a) for a in acc]
        std = [statistics.stdev(a) if len(a) > 1 else 0.0 for a in acc]
        ax_acc.plot(x, mean, label=f"{label} (n = {len(seeds)})", **style)
        ax_acc.fill_between(x, [m - d for m, d in zip(mean, std)],
                            [m + d for m, d in zip(mean, std)], color=style["color"],
                            alpha=0.12, lw=0)
        dead = [statistics.mean(len(curves[label][s][e][1]) for s in seeds)
                for e in range(epochs)]
        ax_dead.plot(x, dead, **style)

    for col, k in enumerate(ks):
        ax_acc, ax_dead = axes[0][col], axes[1][col]
        band(ax_acc, ax_dead, "exact", color="black", lw=1.6)
        for label in order:
            if label != "exact" and int(label.split("-k")[1]) == k:
                policy = label.split("-")[0]
                band(ax_acc, ax_dead, label, color=colors[policy], lw=1.3,
                     ls="-" if "-mem-" in label else "--")
        ax_acc.set_title(f"{name}" + (f", K = {k}" if k else ""), fontsize=10)
        ax_acc.set_ylabel("test accuracy (%), mean ± std")
        ax_acc.grid(alpha=0.3)
        ax_acc.legend(fontsize=7, loc="lower right")
        ax_dead.set_ylabel("dead classes\n(mean per run)", fontsize=8)
        ax_dead.set_xlabel("epoch")
        ax_dead.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def csv_row(name, epoch, r):
    return [name, epoch, r["label"], r["n"], f"{r['mean']:.4f}", f"{r['std']:.4f}",
            r["dead_runs"], f"{r['alive_mean']:.4f}",
            *(f"{r[k]:.4f}" if k in r else "" for k in ("diff", "p_sign", "p_flip")),
            r.get("wins", ""), r.get("losses", ""), " ".join(f"{a:.2f}" for a in r["acc"])]


CSV_HEADER = ["setup", "epoch", "method", "runs", "mean", "std", "dead_runs", "alive_mean",
              "diff_vs_exact", "p_sign", "p_flip", "wins", "losses", "per_run"]


def main(out, specs, at):
    os.makedirs(out, exist_ok=True)
    md, table, by_epoch_table = [], [], []
    for spec in specs:
        name, directory = spec.split("=", 1)
        runs, curves, order = read_results(directory.split(","))
        if "exact" not in runs:
            raise SystemExit(f"aop_report.py: {name} has no exact SGD runs to compare against")
        rows = method_rows(runs, order)
        last = min(len(c) for seeds in curves.values() for c in seeds.values())
        epochs = sorted({e for e in at if e <= last} | {last})
        by_epoch_md, by_epoch = epochs_table(name, curves, order, epochs)
        md.append(compact(name, rows) + "\n" + by_epoch_md + "\n" + clusters(name, runs) + "\n" +
                  recalls_table(name, curves, order, epochs) + "\n" +
                  delta_by_epoch(name, curves, order, last) + "\n" + markdown(name, rows))
        strip_plot(name, rows, os.path.join(out, f"strip_{name}.png"))
        epochs_plot(name, curves, order, os.path.join(out, f"epochs_{name}.png"))
        table += [csv_row(name, last, r)[:1] + csv_row(name, last, r)[2:] for r in rows]
        by_epoch_table += [csv_row(name, e, by_epoch[e][label]) for e in epochs for label in order]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER[:1] + CSV_HEADER[2:])
        w.writerows(table)
    with open(os.path.join(out, "epochs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER)
        w.writerows(by_epoch_table)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], usage=__doc__.split("\n")[2])
    p.add_argument("out")
    p.add_argument("specs", nargs="+", metavar="NAME=DIR[,DIR...]")
    p.add_argument("--at", default="4,10,20,30",
                   help="epochs of the by-epoch table (those the runs reached; the last always)")
    a = p.parse_args(argv)
    bad = [s for s in a.specs if "=" not in s]
    if bad:
        p.error(f"expected NAME=DIR[,DIR...], got {bad[0]!r}")
    try:
        at = sorted({int(e) for e in a.at.split(",") if e})
    except ValueError:
        p.error(f"--at {a.at!r}: expected epochs like 4,10,20,30")
    if any(e < 1 for e in at):
        p.error(f"--at {a.at!r}: epochs start at 1")
    return a.out, a.specs, at


if __name__ == "__main__":
    main(*parse_args())
