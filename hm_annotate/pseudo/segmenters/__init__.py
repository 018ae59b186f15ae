"""Segmenters turn a box prompt into a mask; see ``base.Segmenter`` and ``registry.SEGMENTERS``."""

from hm_annotate.pseudo.segmenters.base import Segmentation, Segmenter
from hm_annotate.pseudo.segmenters.registry import SEGMENTERS

__all__ = ["SEGMENTERS", "Segmentation", "Segmenter"]
