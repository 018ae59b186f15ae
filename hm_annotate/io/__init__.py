"""Exporters and importers, looked up by format name.

Mask-tree formats (one image per frame under ``<video_id>/``) are modules exposing
``write_tree(store, out_dir, *, layer, videos, ext, reporter) -> int`` (images written) and
``read_tree(src_dir, frames_root, *, reporter) -> Iterator[tuple[str, LayerData]]``. They live
in ``MASK_TREE_FORMATS``, a ``hm_annotate.registry.Registry`` whose entries are modules; another
package adds one with an entry point in the group ``hm_annotate.mask_formats``
(``name = pkg.module``).
"""

from __future__ import annotations

from types import ModuleType

from hm_annotate.registry import Registry

MASK_TREE_FORMATS: Registry[ModuleType] = Registry(
    "mask format",
    "hm_annotate.mask_formats",
    {"finediving-hm": "hm_annotate.io.finediving_hm", "davis": "hm_annotate.io.davis"},
)


def mask_tree_format(name: str) -> ModuleType:
    """The module implementing a mask-tree format (``finediving-hm``, ``davis``, or a plug-in's)."""
    return MASK_TREE_FORMATS.factory(name)
