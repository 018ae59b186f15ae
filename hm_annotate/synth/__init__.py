"""Synthetic datasets in the exact FineDiving on-disk format, with exact athlete masks.

``generate(out, videos=..., seed=...)`` renders broadcast-like diving clips (an articulated
athlete, or a synchronised pair, over a cluttered venue followed by a panning, zooming camera),
their ground-truth masks into a mask store, and the FineDiving annotation pickles.
"""

from hm_annotate.synth.generate import SynthError, generate

__all__ = ["SynthError", "generate"]
