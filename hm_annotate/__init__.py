"""hm-annotate: human-centric foreground action masks for AQA video datasets.

What a library user needs is importable from here, loaded on first use (``import hm_annotate``
stays light: no h5py, OpenCV or torch until a name that needs them is touched)::

    from hm_annotate import MaskStore, load_videos, run_pipeline, load_pipeline, Components

- Store: ``MaskStore`` (open/put/read a mask store), ``LayerData`` (one video's masks of a layer),
  ``rle`` (the COCO RLE helpers, as a module).
- Datasets: ``load_videos``, ``Video``.
- Pseudo labels: ``load_pipeline`` (a pipeline file or shipped name), ``Components`` (its built
  segmenter, tracker and detector), ``run_pipeline`` (label videos into a store), and the plug-in
  registries ``SEGMENTERS``, ``TRACKERS``, ``DETECTORS``.
- Features: ``evaluate_stores``, ``merge_stores``, ``compute_stats``, ``review_queue``, ``render_video``.
- Plumbing: ``Reporter`` (progress, warnings, failures of long jobs), ``Registry``, ``HMError``
  (the base of every error the library raises for bad input).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> (module, attribute in it); None: the module itself
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "MaskStore": ("hm_annotate.store", "MaskStore"),
    "LayerData": ("hm_annotate.store", "LayerData"),
    "rle": ("hm_annotate.rle", None),
    "load_videos": ("hm_annotate.datasets", "load_videos"),
    "Video": ("hm_annotate.datasets", "Video"),
    "load_pipeline": ("hm_annotate.pseudo.config", "load_pipeline"),
    "Components": ("hm_annotate.pseudo.pipeline", "Components"),
    "run_pipeline": ("hm_annotate.pseudo.pipeline", "run"),
    "SEGMENTERS": ("hm_annotate.pseudo.segmenters", "SEGMENTERS"),
    "TRACKERS": ("hm_annotate.pseudo.trackers", "TRACKERS"),
    "DETECTORS": ("hm_annotate.pseudo.detectors", "DETECTORS"),
    "evaluate_stores": ("hm_annotate.evaluate", "evaluate_stores"),
    "merge_stores": ("hm_annotate.merge", "merge_stores"),
    "compute_stats": ("hm_annotate.stats", "compute_stats"),
    "review_queue": ("hm_annotate.review", "review_queue"),
    "render_video": ("hm_annotate.render", "render_video"),
    "Reporter": ("hm_annotate.reporting", "Reporter"),
    "Registry": ("hm_annotate.registry", "Registry"),
    "HMError": ("hm_annotate.errors", "HMError"),
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hm_annotate' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = importlib.import_module(module)
    value = value if attr is None else getattr(value, attr)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
