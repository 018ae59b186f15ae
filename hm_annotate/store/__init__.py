"""The HDF5 mask store: every mask of a dataset, as COCO RLE, in one file (``schemas/mask-store.md``).

The package owns the store's queries: features read layers, frames and per-frame arrays through
``MaskStore``, pick videos with ``select_videos``, check layer names with ``check_layer`` and
take per-frame foregrounds with ``unions``. Modules: ``layer`` (LayerData, layer names, overlay),
``codec`` (the on-disk form), ``checks`` (what may be read), ``reader`` and ``maskstore``
(handles), ``journal`` (lock, fold, clean-up), ``validate``, ``summary``.
"""

from hm_annotate.store.codec import (
    FORMAT,
    MAX_ATTRIBUTE_BYTES,
    SCHEMA_VERSION,
    group_name,
)
from hm_annotate.store.layer import (
    LAYERS,
    VIEWS,
    LayerData,
    StoreError,
    StoreLockedError,
    check_layer,
    curated_view,
    overlay,
    unions,
)
from hm_annotate.store.maskstore import FOLD_EVERY, MaskStore, new_store, select_videos, writer
from hm_annotate.store.summary import summarise
from hm_annotate.store.validate import validate

__all__ = [
    "FOLD_EVERY",
    "FORMAT",
    "LAYERS",
    "MAX_ATTRIBUTE_BYTES",
    "SCHEMA_VERSION",
    "VIEWS",
    "LayerData",
    "MaskStore",
    "StoreError",
    "StoreLockedError",
    "check_layer",
    "curated_view",
    "group_name",
    "new_store",
    "overlay",
    "select_videos",
    "summarise",
    "unions",
    "validate",
    "writer",
]
