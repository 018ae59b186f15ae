"""Segmenters by name: built-ins plus the ``hm_annotate.segmenters`` entry point group."""

from __future__ import annotations

from hm_annotate.pseudo.segmenters.base import Segmenter
from hm_annotate.registry import Registry

SEGMENTERS: Registry[Segmenter] = Registry(
    "segmenter",
    "hm_annotate.segmenters",
    {
        "sam": "hm_annotate.pseudo.segmenters.sam:SamSegmenter",
        "grabcut": "hm_annotate.pseudo.segmenters.grabcut:GrabCutSegmenter",
        "pose": "hm_annotate.pseudo.segmenters.pose:PoseSegmenter",
    },
)
