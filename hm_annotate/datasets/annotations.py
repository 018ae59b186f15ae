"""Reading annotation files safely: restricted pickles, MATLAB splits, plain Python values.

Dataset annotations arrive as pickles from the internet. ``pickle.load`` would run any code a
tampered file names, so ``load_pickle`` only lets through the globals real annotation pickles
need (numpy arrays, scalars and dtypes, ordered dicts); anything else is refused with a
``DatasetError``. Values are turned into plain Python (``plain``) so metadata serialises to
JSON and HDF5 attributes without numpy types.
"""

from __future__ import annotations

import io
import math
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
        if not path.is_file():
            raise DatasetError(f"{path}: annotation file not found (or not a regular file)")
        if path.stat().st_size > MAX_PICKLE_BYTES:
            raise DatasetError(f"{path}: annotation file is larger than {MAX_PICKLE_BYTES >> 20} MiB")
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


# bounds on values read from annotation pickles: a 274-byte pickle of nested shared lists expands
# to 2**40 items when walked, and end_frame = 10**9 asked numpy for 7.45 GiB
MAX_PICKLE_BYTES = 1 << 30
MAX_ITEMS = 100_000
MAX_DEPTH = 8
MAX_TEXT = 256
MAX_NUMBER = 10**12


def _bounded(value: Any, where: str) -> None:
    """Refuse a value that would take more than MAX_ITEMS items or MAX_DEPTH levels to walk
    (shared sub-lists count every time they appear, as converting them would)."""
    budget = MAX_ITEMS
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise BadVideo(f"{where} has more than {MAX_ITEMS} items")
        if isinstance(item, np.ndarray):
            budget -= item.size
            if budget < 0 or item.dtype.hasobject:
                raise BadVideo(f"{where} is an array of more than {MAX_ITEMS} items or of objects")
            continue
        if isinstance(item, (dict, list, tuple)) and len(item) > budget:
            raise BadVideo(f"{where} has more than {MAX_ITEMS} items")
        if isinstance(item, dict):
            children = list(item.values())
        else:
            children = item if isinstance(item, (list, tuple)) else ()
        if children and depth >= MAX_DEPTH:
            raise BadVideo(f"{where} is nested more than {MAX_DEPTH} levels deep")
        stack.extend((c, depth + 1) for c in children)


def plain(value: Any, where: str = "value") -> Any:
    """``value`` with numpy scalars/arrays and tuples turned into Python numbers and lists
    (BadVideo, naming ``where``, when it is too large or too deep to convert)."""
    _bounded(value, where)
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def number_list(value: Any, kind: type = float, where: str = "value") -> list:
    """A flat list of Python numbers from a list, tuple or array of any shape (BadVideo, naming
    ``where``, for anything else)."""
    _bounded(value, where)
    if isinstance(value, (str, bytes)):
        raise BadVideo(f"{where} is a text, not a list of numbers")
    try:
        arr = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError, OverflowError):
        raise BadVideo(f"{where} is not a list of numbers") from None
    if not np.all(np.isfinite(arr)) or (kind is int and not np.all(np.abs(arr) <= MAX_NUMBER)):
        raise BadVideo(f"{where} holds a number that is not finite or too large")
    if kind is int:
        if not np.all(arr == np.round(arr)):
            raise BadVideo(f"{where} holds a number that is not an integer")
        return arr.astype(np.int64).tolist()
    return arr.tolist()


def scalar(value: Any, kind: type, where: str) -> Any:
    """One annotation field as ``int``, ``float`` or ``str``, refused (BadVideo naming ``where``)
    unless it is a number or short text: ``str()`` of a nested list from a tampered pickle can
    take hours, ``int()`` of one a traceback."""
    if isinstance(value, np.generic):
        value = value.item()
    if kind is str:
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= MAX_NUMBER:
            value = str(value)
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise BadVideo(f"{where} is not a text of at most {MAX_TEXT} characters")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadVideo(f"{where} is a {type(value).__name__}, not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadVideo(f"{where} is not finite")
    if abs(value) > MAX_NUMBER:
        raise BadVideo(f"{where} is too large")
    if kind is int:
        if value != int(value):
            raise BadVideo(f"{where} is {value}, not an integer")
        return int(value)
    return float(value)


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
    if not isinstance(entry, dict):
        raise BadVideo(f"video {video_id}: its entry in {path} is a {type(entry).__name__}, not a dict")
    absent = [f for f in required if f not in entry]
    if absent:
        raise BadVideo(f"video {video_id}: its entry in {path} lacks {', '.join(absent)}")
    return entry
