"""Seeds for fuzz_pt: small files as torch.save writes them (run with the project venv):
    python tests/fuzz/make_pt_corpus.py tests/fuzz/corpus/pt"""
import os
import sys

import torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
g = torch.Generator().manual_seed(0)
x = torch.randn(12, generator=g)
seeds = {
    "f32.pt": x,
    "f16_2d.pt": x.view(3, 4).half(),
    "bf16.pt": x.bfloat16(),
    "f64.pt": x.double(),
    "dict.pt": {"grad": x[:5], "step": 120},
    "tuple.pt": (x[:3], "name"),
    "int.pt": torch.arange(4),
    "empty.pt": torch.empty(0),
}
for name, value in seeds.items():
    torch.save(value, os.path.join(out, name))
    print(os.path.getsize(os.path.join(out, name)), name)
