"""Dataset adapters, looked up by name: each turns a dataset on disk into ``Video`` records.

An adapter is a callable ``adapter(data_root, split="all", strict=False, **options) ->
list[Video]``. Built in: ``finediving``, ``mtl-aqa``, ``aqa7`` and ``videos`` (a folder of video
files or frame folders; option ``metadata_csv``). ``ADAPTERS`` is a ``hm_annotate.registry.Registry``:
add one with ``register_adapter`` or, from another package, an entry point in the group
``hm_annotate.datasets``. Bad videos become ``DatasetWarning`` warnings (``strict=True``: a
``DatasetError``); see ``problems``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hm_annotate.datasets.base import DatasetError, Video
from hm_annotate.datasets.problems import DatasetWarning, safe_ids
from hm_annotate.registry import Registry

__all__ = [
    "ADAPTERS", "ENTRY_POINT_GROUP", "SPLITS", "Adapter", "DatasetError", "DatasetWarning", "Video",
    "adapter_names", "get_adapter", "load_videos", "register_adapter",
]

Adapter = Callable[..., list[Video]]
ENTRY_POINT_GROUP = "hm_annotate.datasets"
SPLITS = ("train", "test", "all")

ADAPTERS: Registry[list[Video]] = Registry(
    "dataset format",
    ENTRY_POINT_GROUP,
    {
        "finediving": "hm_annotate.datasets.finediving:load",
        "mtl-aqa": "hm_annotate.datasets.mtl_aqa:load",
        "aqa7": "hm_annotate.datasets.aqa7:load",
        "videos": "hm_annotate.datasets.videos:load",
    },
    error=DatasetError,
)


def register_adapter(name: str, fn: Adapter) -> None:
    """Make ``fn`` available as dataset format ``name`` (replacing an adapter of that name)."""
    if not callable(fn):
        raise TypeError(f"adapter {name!r} must be callable, got {type(fn).__name__}")
    ADAPTERS.register(name, fn)


def adapter_names() -> list[str]:
    """Names of the built-in and registered adapters and of those installed packages offer."""
    return ADAPTERS.names()


def get_adapter(name: str) -> Adapter:
    """The adapter called ``name``: built in, registered, or loaded from its entry point."""
    return ADAPTERS.factory(name)


def load_videos(
    name: str,
    data_root: str | Path,
    *,
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
    found = safe_ids(list(ADAPTERS.create(name, data_root, split=split, strict=strict, **options)), strict)
    if videos is None:
        return found
    by_id = {v.id: v for v in found}
    missing = [vid for vid in dict.fromkeys(videos) if vid not in by_id]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise DatasetError(f"{data_root}: no video {shown} in the {name} {split} split(s)")
    return [by_id[vid] for vid in dict.fromkeys(videos)]
