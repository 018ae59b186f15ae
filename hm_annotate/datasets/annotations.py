"""Reading annotation files safely: restricted pickles, MATLAB splits, plain Python values.

Dataset annotations arrive as pickles from the internet. ``pickle.load`` would run any code a
tampered file names, so ``load_pickle`` only lets through the globals real annotation pickles
need (numpy arrays, scalars and dtypes, ordered dicts); anything else is refused with a
``DatasetError``. Values are turned into plain Python (``plain``) so metadata serialises to
JSON and HDF5 attributes without numpy types.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from hm_annotate.datasets.base import DatasetError
from hm_annotate.datasets.problems import BadVideo, report

# (module, name) pairs an annotation pickle may refer to; numpy.core.* is numpy 1's spelling.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # how protocol 2 spells bytes (array buffers)
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "complex"),
    ("builtins", "slice"),
}
_NUMPY2 = int(np.__version__.split(".")[0]) >= 2


class _AnnotationUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refers to {module}.{name}, which no annotation needs")
        if _NUMPY2 and module.startswith("numpy.core."):
            module = "numpy._core." + module[len("numpy.core.") :]
        return super().find_class(module, name)


def load_pickle(path: Path) -> Any:
    """Load an annotation pickle (Python 3, or Python 2 via latin-1); a missing file is fatal."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: annotation file not found") from None
    for encoding in ("ASCII", "latin1"):
        try:
            return _AnnotationUnpickler(io.BytesIO(data), encoding=encoding).load()
        except UnicodeDecodeError:
            continue
        except Exception as exc:  # pickle raises many types on corrupt input
            raise DatasetError(f"{path}: not a readable annotation pickle ({exc})") from None
    raise DatasetError(f"{path}: not a readable annotation pickle (undecodable text)")


def load_mat_array(path: Path, key: str) -> np.ndarray:
    """One array from a MATLAB .mat file; a missing file or key is fatal."""
    import scipy.io

    if not path.is_file():
        raise DatasetError(f"{path}: annotation file not found")
    try:
        contents = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError on corrupt files
        raise DatasetError(f"{path}: not a readable .mat file ({exc})") from None
    if key not in contents:
        raise DatasetError(f"{path}: has no variable {key!r}")
    return np.asarray(contents[key])


def require_mapping(obj: Any, path: Path) -> dict:
    """The annotation dict of a file, or a fatal error saying the file has the wrong shape."""
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}: expected a dict of annotations, found {type(obj).__name__}")
    return obj


def plain(value: Any) -> Any:
    """``value`` with numpy scalars/arrays and tuples turned into Python numbers and lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def number_list(value: Any, kind: type = float) -> list:
    """A flat list of Python numbers from a list, tuple or array of any shape."""
    return np.asarray(value, dtype=np.int64 if kind is int else np.float64).ravel().tolist()


def split_members(
    splits: dict[str, Iterable[Any]], wanted: str, strict: bool, describe: Callable[[Any], str]
) -> list[tuple[Any, str]]:
    """``(key, split)`` for every key of the wanted split(s), in file order.

    A key listed twice (in both splits, or twice in one) is reported and kept once, under
    the split that listed it first, so every video appears once.
    """
    seen: dict[Any, str] = {}
    for split_name, keys in splits.items():
        for key in keys:
            if key in seen:
                report(
                    f"video {describe(key)}: listed in the {seen[key]} split and again in {split_name}",
                    strict,
                    f"kept in {seen[key]}",
                )
                continue
            seen[key] = split_name
    return [(key, s) for key, s in seen.items() if wanted in ("all", s)]


def video_entry(table: dict, key: Any, video_id: str, path: Path, required: Iterable[str]) -> dict:
    """A video's annotation entry, with every required field; BadVideo names what is missing."""
    entry = table.get(key)
    if entry is None:
        raise BadVideo(f"video {video_id}: no entry in {path}")
    absent = [f for f in required if f not in entry]
    if absent:
        raise BadVideo(f"video {video_id}: its entry in {path} lacks {', '.join(absent)}")
    return entry
