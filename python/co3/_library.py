"""Finds, checks and loads libco3_ops.so, the library that registers torch.ops.co3.

Where it looks, first match wins:
  1. $CO3_OPS_LIBRARY, a path to the library;
  2. inside this package (an installed wheel: `pip install --no-build-isolation .`);
  3. the build tree of the checkout this package sits in ($CO3_BUILD_DIR, else build/).

Before loading, it reads co3_build_info.json beside the library (written by the build) and
refuses a library built against another torch than the running one: such a library would fail
inside dlopen with an undefined C++ symbol that names neither version.
"""
import json
import os

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_HERE))
_NAME = "libco3_ops.so"
_INFO = "co3_build_info.json"


def library_path():
    """The library to load (see the module's doc for the order)."""
    env = os.environ.get("CO3_OPS_LIBRARY")
    if env:
        return env
    packaged = os.path.join(_HERE, _NAME)
    if os.path.exists(packaged):
        return packaged
    build = os.environ.get("CO3_BUILD_DIR", os.path.join(_REPO, "build"))
    return os.path.join(build, "lib", _NAME)


def read_build_info(path):
    """The build record beside the library at `path` (a dict), or None where there is none."""
    info = os.path.join(os.path.dirname(os.path.abspath(path)), _INFO)
    if not os.path.exists(info):
        return None
    with open(info) as f:
        return json.load(f)


def check_torch(built, running, path):
    """Raises ImportError when the library at `path` was built against another torch."""
    if built and built != running:
        raise ImportError(
            f"co3: {path} was built against torch {built}, but this Python runs torch {running}. "
            "A torch extension must be built against the torch that loads it: rebuild co3 in "
            "this environment (pip install --no-build-isolation <co3 source>, or `make build` "
            "in a checkout).")


def load():
    """Loads the library; returns (path, build record or None)."""
    path = library_path()
    if not os.path.exists(path):
        raise ImportError(
            f"co3: {path} not found; install co3 (pip install --no-build-isolation <co3 source>), "
            f"build it with `make build` in {_REPO}, or point CO3_OPS_LIBRARY at libco3_ops.so")
    info = read_build_info(path)
    check_torch(info and info.get("torch"), torch.__version__, path)
    try:
        torch.ops.load_library(path)
    except OSError as e:
        # No record (a library from elsewhere) or a record that lies: say what usually causes it.
        # (torch.ops.load_library wraps dlopen's message, which names the symbol, as the cause.)
        reason = str(e.__cause__ or e)
        if "undefined symbol" in reason:
            raise ImportError(
                f"co3: {path} does not link against this torch ({torch.__version__}): {reason}. "
                "It was most likely built against another torch, or from other co3 sources; "
                "rebuild co3 in this environment.") from e
        raise
    return path, info
