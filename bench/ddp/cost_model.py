"""The exchange's cost model (docs/DISTRIBUTED.md): from the bytes bench_collective.py measured,
the codec throughput at which co3 (allgather, rsag, hierarchical rsag) exchanges a bucket as
fast as NCCL's fp32 and bf16 rings, for N ranks and a link rate. A model, not a measurement:

    time(ring, w bytes an entry)  = 2·(N−1)/N · w·E / R
    time(co3 allgather)           = (N−1)·b₁/8·E / R  + 4E·(1 + N) / T
    time(co3 rsag)                = (N−1)/N·(b₁+b₂)/8·E / R + 4E·(3 + 1/N) / T
    time(hierarchical, L a node)  = NVLink steps (ignored: ≥ 10× the NIC) + rsag among the
                                    M = N/L nodes of each GPU's share E/L on its own NIC, against
                                    NCCL's rings, which cross the nodes with 2(M−1)/M of E/L too

with E entries, R the link rate in bytes/s, T the codec's throughput in float32 bytes/s (encode
and decode alike), b₁ and b₂ the bits an entry of the two stages' packets as measured, no overlap
of coding with transfer, and latency ignored (large buckets). Codec work: allgather encodes the
bucket once and decodes N packets; rsag encodes it (N shards) and the sum of its shard (1/N),
and decodes its shard's N packets (one bucket's entries) and the N summed shards (one more).
Where co3 needs T above what the codec reaches, the ring wins.

The second table models `auto`'s choice between allgather and rsag at the same N: per entry rsag
saves (N−1)·b₁/8 − (N−1)/N·(b₁+b₂)/8 bytes and (1 + N) − (3 + 1/N) codec passes, and costs two
more collective rounds (an announcement all-gather and an all-to-all) of latency α each. With
latency ignored both savings change sign between N = 2 and N = 3 whatever R and T are; with it,
rsag pays off for buckets above E* = 2α / (bytes saved/R + 4·passes saved/T) entries, printed per
µs of α for a codec of --codec-gbs GB/s (default 3.4: the CPU codec's fp4 mix of rsag's passes on
one core, README.md; no GPU throughput has been measured). α is not measured here either: the
table gives E* per µs of it.

    python3 bench/ddp/cost_model.py [--codec-gbs T] bench/results/collective_*.json
"""
import argparse
import json


def bits(rows, algorithm, fmt="fp4"):
    """b (allgather) or b₁+b₂ (rsag) in bits an entry, from the largest world measured, as the
    mean rank sent them (announcements and allgather's padding included)."""
    row = max((r for r in rows if r["algorithm"] == algorithm and r["format"] == fmt),
              key=lambda r: r["world"])
    n, e = row["world"], row["entries"]
    share = (n - 1) if algorithm == "co3-allgather" else (n - 1) / n
    return 8 * row["bytes_sent_per_rank"] / (share * e)


def break_even(n, rate_gbit, ring_bytes, co3_bits_total, passes):
    """T (GB/s of float32) at which co3's time equals the ring's; None where co3 sends more."""
    rate = rate_gbit * 1e9 / 8
    saved = (2 * (n - 1) / n * ring_bytes - co3_bits_total / 8) / rate  # seconds per entry
    if saved <= 0:
        return None
    return 4 * passes / saved / 1e9


def auto_rule(b1, b12, codec_gbs, rates):
    """The allgather-or-rsag table (the module's doc)."""
    print(f"\nallgather against rsag at the same N (a model; latency α per collective round not"
          f" measured), codec {codec_gbs} GB/s: per entry, rsag's saving in bits sent and in codec"
          f" passes, and the bucket (entries) above which rsag is faster per µs of α:\n")
    print("| N | bits saved | passes saved | " + " | ".join(f"E*/µs at {r} Gb/s" for r in rates) + " |")
    print("|---:|---:|---:|" + "---:|" * len(rates))
    for n in (2, 3, 4, 8, 64):
        dbits = (n - 1) * b1 - (n - 1) / n * b12
        dpasses = (1 + n) - (3 + 1 / n)
        cells = []
        for r in rates:
            per_entry = dbits / 8 / (r * 1e9 / 8) + 4 * dpasses / (codec_gbs * 1e9)  # seconds
            cells.append("never" if per_entry <= 0 else f"{1e-6 * 2 / per_entry:,.0f}")
        print(f"| {n} | {dbits:+.2f} | {dpasses:+.2f} | " + " | ".join(cells) + " |")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", nargs="+", help="bench_collective.py --json outputs")
    p.add_argument("--codec-gbs", type=float, default=3.4,
                   help="codec throughput T for the allgather/rsag table (GB/s of float32)")
    a = p.parse_args()
    rows = []
    for path in a.json:
        with open(path) as f:
            rows += json.load(f)
    b1 = bits(rows, "co3-allgather")
    b12 = bits(rows, "co3-rsag")
    print(f"measured: allgather {b1:.3f} bits an entry, rsag b1+b2 {b12:.3f}")
    rates = (10, 100, 400)
    local = 8
    print("\nCodec throughput (GB/s of float32) co3 needs to match the bf16 ring / the fp32 ring;"
          " '-' where it sends more bytes than the ring:\n")
    print("| N | algorithm | " + " | ".join(f"{r} Gb/s" for r in rates) + " |")
    print("|---:|---|" + "---|" * len(rates))
    for n in (2, 8, 64, 256, 1024):
        for name, total, passes in (
                ("allgather", (n - 1) * b1, 1 + n),
                ("rsag", (n - 1) / n * b12, 3 + 1 / n),
                (f"hier. rsag ({local}/node)", None, None)):
            cells = []
            for r in rates:
                if total is None:  # each GPU: rsag among the nodes on its share E/L
                    m = n // local
                    if m < 2:
                        cells.append("n/a")
                        continue
                    # Per GPU and its NIC, on its share E/L: NCCL's rings cross the nodes with
                    # 2(M−1)/M of each GPU's share too, so both sides scale by 1/L.
                    ratio = [break_even(m, r, w, (m - 1) / m * b12, 3 + 1 / m) for w in (2, 4)]
                else:
                    ratio = [break_even(n, r, w, total, passes) for w in (2, 4)]
                cells.append(" / ".join("-" if t is None else f"{t:.1f}" for t in ratio))
            print(f"| {n} | {name} | " + " | ".join(cells) + " |")
    auto_rule(b1, b12, a.codec_gbs, rates)


if __name__ == "__main__":
    main()
