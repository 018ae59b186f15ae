"""Trackers by name: built-ins plus the ``hm_annotate.trackers`` entry point group (e.g. OSTrack)."""

from __future__ import annotations

from hm_annotate.pseudo.trackers.base import Tracker
from hm_annotate.registry import Registry

TRACKERS: Registry[Tracker] = Registry(
    "tracker",
    "hm_annotate.trackers",
    {
        "csrt": "hm_annotate.pseudo.trackers.opencv:CSRTTracker",
        "kcf": "hm_annotate.pseudo.trackers.opencv:KCFTracker",
        "mil": "hm_annotate.pseudo.trackers.opencv:MILTracker",
        "mask-flow": "hm_annotate.pseudo.trackers.mask_flow:MaskFlowTracker",
    },
)
