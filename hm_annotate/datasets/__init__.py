"""Dataset adapters, looked up by name: each turns a dataset on disk into ``Video`` records.

An adapter is a callable ``adapter(data_root, split="all", strict=False, **options) ->
list[Video]``. Built in: ``finediving``, ``mtl-aqa``, ``aqa7`` and ``videos`` (a folder of video
files or frame folders; option ``metadata_csv``). Add one with ``register_adapter`` or, from
another package, an entry point in the group ``hm_annotate.datasets``. Bad videos become
``DatasetWarning`` warnings (``strict=True``: a ``DatasetError``); see ``problems``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from hm_annotate.datasets import aqa7, finediving, mtl_aqa, videos
from hm_annotate.datasets.base import DatasetError, Video
from hm_annotate.datasets.problems import DatasetWarning, safe_ids

__all__ = [
    "ADAPTERS", "ENTRY_POINT_GROUP", "SPLITS", "Adapter", "DatasetError", "DatasetWarning", "Video",
    "adapter_names", "get_adapter", "load_videos", "register_adapter",
]

Adapter = Callable[..., list[Video]]
ENTRY_POINT_GROUP = "hm_annotate.datasets"
SPLITS = ("train", "test", "all")

ADAPTERS: dict[str, Adapter] = {
    "finediving": finediving.load,
    "mtl-aqa": mtl_aqa.load,
    "aqa7": aqa7.load,
    "videos": videos.load,
}


def register_adapter(name: str, fn: Adapter) -> None:
    """Make ``fn`` available as dataset format ``name`` (replacing an adapter of that name)."""
    if not callable(fn):
        raise TypeError(f"adapter {name!r} must be callable, got {type(fn).__name__}")
    ADAPTERS[name] = fn


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def adapter_names() -> list[str]:
    """Names of the registered adapters and of those installed packages offer."""
    return sorted(set(ADAPTERS) | set(_entry_points()))


def get_adapter(name: str) -> Adapter:
    """The adapter called ``name``: registered, or loaded (once) from its entry point."""
    if name not in ADAPTERS:
        ep = _entry_points().get(name)
        if ep is None:
            raise DatasetError(f"unknown dataset format {name!r}; known: {', '.join(adapter_names())}")
        try:
            fn = ep.load()
        except Exception as exc:  # a broken plug-in: say which one, whatever went wrong inside it
            raise DatasetError(f"dataset format {name!r}: cannot load {ep.value} ({exc})") from exc
        register_adapter(name, fn)
    return ADAPTERS[name]


def _check_options(name: str, fn: Adapter, options: dict[str, Any]) -> None:
    """Refuse options the adapter does not take, with a message instead of a TypeError."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    accepted = {p.name for p in params}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise DatasetError(f"dataset format {name!r} takes no option {', '.join(unknown)}")


def load_videos(
    name: str,
    data_root: str | Path,
    split: str = "all",
    strict: bool = False,
    videos: Sequence[str] | None = None,
    **options: Any,
) -> list[Video]:
    """The videos adapter ``name`` finds under ``data_root``; ``videos`` keeps only those ids.

    Asking for an id the dataset does not have (or that was skipped as bad) is an error
    naming the ids, whatever ``strict`` says: the caller asked for that video by name.
    """
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if not Path(data_root).is_dir():
        raise DatasetError(f"{data_root}: data root is not a directory")
    fn = get_adapter(name)
    _check_options(name, fn, options)
    found = safe_ids(list(fn(data_root, split=split, strict=strict, **options)), strict)
    if videos is None:
        return found
    by_id = {v.id: v for v in found}
    missing = [vid for vid in dict.fromkeys(videos) if vid not in by_id]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise DatasetError(f"{data_root}: no video {shown} in the {name} {split} split(s)")
    return [by_id[vid] for vid in dict.fromkeys(videos)]
