"""Finds and loads libco3_ops.so, the library that registers torch.ops.co3."""
import os

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_HERE))


def library_path():
    """$CO3_OPS_LIBRARY, else the build tree of this checkout ($CO3_BUILD_DIR or build/)."""
    env = os.environ.get("CO3_OPS_LIBRARY")
    if env:
        return env
    build = os.environ.get("CO3_BUILD_DIR", os.path.join(_REPO, "build"))
    return os.path.join(build, "lib", "libco3_ops.so")


def load():
    path = library_path()
    if not os.path.exists(path):
        raise ImportError(
            f"co3: {path} not found; build it with `make build` in {_REPO} "
            "or point CO3_OPS_LIBRARY at libco3_ops.so")
    torch.ops.load_library(path)
    return path
