"""Trackers carry an object's box from frame to frame; see ``base.Tracker`` and ``registry.TRACKERS``."""

from hm_annotate.pseudo.trackers.base import Track, Tracker
from hm_annotate.pseudo.trackers.registry import TRACKERS

__all__ = ["TRACKERS", "Track", "Tracker"]
