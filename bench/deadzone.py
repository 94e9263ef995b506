"""Dead zone or larger scale? At the same coded rate, which of the two sends less error:
   (a) fp4 at scale s (nearest rounding: |x/s| < 0.25 codes to zero), or
   (b) fp4 at scale s with a dead zone: |x/s| < θ codes to zero for θ > 0.25, the rest as (a).
Rate: the Huffman code of the entry pairs (two fp4 entries a symbol, as co3 codes fp4), from
the pairs' histogram, in bits per entry (payload only). Error: NMSE = Σ(x − x̂)² / Σ x².
Usage: python bench/deadzone.py ../shared/data/resnet18_step120.f32 [more .f32 files]
(every 7th entry of each file: 500,000 entries, enough for the rates and errors to 3 digits)
Prints, per file and target rate, the lowest NMSE each scheme reaches at or below that rate."""
import heapq
import sys

import numpy as np

MAGS = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0])  # fp4 (E2M1) magnitudes


def huffman_bits(counts):
    counts = [c for c in counts if c > 0]
    if len(counts) == 1:
        return counts[0]  # one symbol: a one-bit code
    heap = list(counts)
    heapq.heapify(heap)
    total = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        total += a + b  # every merge adds one bit to each symbol below it
        heapq.heappush(heap, a + b)
    return total


def code(y, theta):
    a = np.abs(y)
    mid = (MAGS[1:] + MAGS[:-1]) / 2
    mag = np.searchsorted(mid, a)  # nearest magnitude index (saturating at 3)
    mag[a < theta] = 0
    return mag, np.sign(y)


def measure(x, s, theta):
    mag, sign = code(x / s, theta)
    xhat = sign * MAGS[mag] * s
    sym = mag * 2 + (sign < 0) * (mag > 0)  # 11 entry codes
    pairs = sym[0::2] * 16 + sym[1::2]
    bits = huffman_bits(np.bincount(pairs, minlength=256)) / len(x)
    return bits, float(np.sum((x - xhat) ** 2) / np.sum(x * x))


def frontier(points, rate):
    ok = [e for b, e in points if b <= rate]
    return min(ok) if ok else float("nan")


def main():
    for path in sys.argv[1:]:
        x = np.fromfile(path, dtype=np.float32).astype(np.float64)
        x = x[::7]
        x = x[: len(x) // 2 * 2]
        rms = np.sqrt(np.mean(x * x))
        scales = rms * np.exp(np.linspace(np.log(0.05), np.log(50), 90))
        plain = [measure(x, s, 0.25) for s in scales]
        dead = [measure(x, s, th) for s in scales[::3] for th in (0.35, 0.5, 0.75, 1.0, 1.5)]
        print(f"{path}: {len(x)} entries")
        print("rate (bits/entry) | NMSE, scale only | NMSE, scale + dead zone | dead zone better by")
        for r in (0.55, 0.6, 0.75, 1.0, 1.25, 1.5, 2.0):
            a, b = frontier(plain, r), frontier(plain + dead, r)
            print(f"{r:.2f} | {a:.4f} | {b:.4f} | {100 * (a - b) / a:.2f}%")


if __name__ == "__main__":
    main()
