"""Exporters and importers, looked up by format name.

Mask-tree formats (one image per frame under ``<video_id>/``) are modules exposing
``write_tree(store, out_dir, layer, videos, ext, progress) -> int`` (images written) and
``read_tree(src_dir, frames_root, progress) -> Iterator[tuple[str, LayerData]]``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from hm_annotate.errors import HMError

MASK_TREE_FORMATS: dict[str, str] = {
    "finediving-hm": "hm_annotate.io.finediving_hm",
    "davis": "hm_annotate.io.davis",
}


def mask_tree_format(name: str) -> ModuleType:
    """The module implementing a mask-tree format (``finediving-hm``, ``davis``)."""
    if name not in MASK_TREE_FORMATS:
        raise HMError(f"unknown mask format {name!r}; known: {', '.join(sorted(MASK_TREE_FORMATS))}")
    return importlib.import_module(MASK_TREE_FORMATS[name])
