"""Inputs and checks for tests/cli/test_cli.sh.

  make_inputs.py make DIR               write good and bad gradient files into DIR; every good
                                        X.ext gets X.ref.f32, its values as flat float32
  make_inputs.py compare REF OUT MAX    exit 1 unless OUT (float32) has REF's length and
                                        NMSE = sum((ref-out)^2) / sum(ref^2) <= MAX
  make_inputs.py corrupt IN OUT MODE    MODE flip: one byte in the middle changed;
                                        truncate: the first half only

Only the standard library is needed, so that the .f32/.npy checks run anywhere; the .pt files
are written when torch is importable (the project venv).
"""
import array
import math
import os
import random
import struct
import sys

N = 5000


def laplace_values(n, seed, scale=1e-3):
    rng = random.Random(seed)
    return [rng.choice((-1.0, 1.0)) * rng.expovariate(1.0 / scale) for _ in range(n)]


def f32_bytes(values):
    return array.array("f", values).tobytes()


def f16_round_trip(values):
    """The values as float16 bytes and, exactly, as the floats they became."""
    raw = struct.pack("<%de" % len(values), *values)
    return raw, list(struct.unpack("<%de" % len(values), raw))


def npy_bytes(descr, shape, payload, fortran=False, version=1):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %r, }" % (descr, fortran, shape)
    prefix = 10 if version == 1 else 12
    header += " " * ((-(prefix + len(header) + 1)) % 64) + "\n"  # numpy pads to 64 bytes
    raw = header.encode("latin1")
    size = struct.pack("<H", len(raw)) if version == 1 else struct.pack("<I", len(raw))
    return b"\x93NUMPY" + bytes((version, 0)) + size + raw + payload


def write(directory, name, data, ref=None):
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)
    if ref is not None:
        stem = name.rsplit(".", 1)[0]
        with open(os.path.join(directory, stem + ".ref.f32"), "wb") as f:
            f.write(f32_bytes(ref))


def make(directory):
    os.makedirs(directory, exist_ok=True)
    vals = laplace_values(N, seed=1)
    f32 = f32_bytes(vals)
    ref32 = list(array.array("f", f32))  # the values as float32 actually stores them
    f16, ref16 = f16_round_trip(laplace_values(N, seed=2, scale=1.0))

    # Good inputs.
    write(directory, "small.f32", f32, ref32)
    write(directory, "empty.f32", b"", [])
    write(directory, "small_f4.npy", npy_bytes("<f4", (50, 100), f32), ref32)
    write(directory, "small_f2.npy", npy_bytes("<f2", (N,), f16), ref16)
    write(directory, "v2.npy", npy_bytes("<f4", (N,), f32, version=2), ref32)
    write(directory, "fortran_row.npy", npy_bytes("<f4", (1, N), f32, fortran=True), ref32)
    write(directory, "empty.npy", npy_bytes("<f4", (0, 3), b""), [])

    # Bad inputs.
    good = npy_bytes("<f4", (N,), f32)
    write(directory, "truncated.npy", good[:40])
    write(directory, "short_data.npy", good[:-4])
    write(directory, "f8.npy", npy_bytes("<f8", (N // 2,), f32))
    write(directory, "big_endian.npy", npy_bytes(">f4", (N,), f32))
    write(directory, "fortran_2d.npy", npy_bytes("<f4", (50, 100), f32, fortran=True))
    write(directory, "bad_magic.npy", b"\x93NUMPZ" + good[6:])
    write(directory, "bad_size.f32", f32[:10])
    write(directory, "non_finite.f32", f32_bytes(vals[:100] + [math.nan, math.inf, -math.inf]))

    try:
        import torch
    except ImportError:
        print("make_inputs: torch not importable, no .pt files")
        return
    t = torch.tensor(vals, dtype=torch.float32).reshape(50, 100)
    write_pt(directory, "small.pt", t)
    write_pt(directory, "transposed.pt", t.t())  # not contiguous: read in logical order
    write_pt(directory, "bf16.pt", t.to(torch.bfloat16))
    write_pt(directory, "f64.pt", t.double())
    write_pt(directory, "dict.pt", {"grad": t, "step": 120}, t)
    write_pt(directory, "int.pt", torch.arange(10))
    write_pt(directory, "two.pt", [t, t])


def write_pt(directory, name, obj, ref=None):
    import torch

    torch.save(obj, os.path.join(directory, name))
    if ref is None and isinstance(obj, torch.Tensor) and obj.is_floating_point():
        ref = obj
    if ref is not None:
        stem = name.rsplit(".", 1)[0]
        flat = ref.float().contiguous().flatten().tolist()
        with open(os.path.join(directory, stem + ".ref.f32"), "wb") as f:
            f.write(f32_bytes(flat))


def read_f32(path):
    with open(path, "rb") as f:
        return array.array("f", f.read())


def compare(ref_path, out_path, max_nmse):
    ref, out = read_f32(ref_path), read_f32(out_path)
    if len(ref) != len(out):
        print("length %d, expected %d" % (len(out), len(ref)))
        return 1
    if not all(math.isfinite(v) for v in out):
        print("non-finite value in the output")
        return 1
    err = math.fsum((a - b) ** 2 for a, b in zip(ref, out))
    energy = math.fsum(a * a for a in ref)
    nmse = err / energy if energy > 0 else (0.0 if err == 0 else math.inf)
    print("nmse %.6g" % nmse)
    return 0 if nmse <= float(max_nmse) else 1


def corrupt(in_path, out_path, mode):
    with open(in_path, "rb") as f:
        data = bytearray(f.read())
    if mode == "flip":
        data[len(data) // 2] ^= 0x5A
    elif mode == "truncate":
        data = data[: len(data) // 2]
    else:
        raise SystemExit("unknown corrupt mode " + mode)
    with open(out_path, "wb") as f:
        f.write(data)
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "make":
        return make(argv[2]) or 0
    if len(argv) == 5 and argv[1] == "compare":
        return compare(argv[2], argv[3], argv[4])
    if len(argv) == 5 and argv[1] == "corrupt":
        return corrupt(argv[2], argv[3], argv[4])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
