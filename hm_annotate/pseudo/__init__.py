"""Pseudo-label generation: prompts -> tracker (a box per frame) -> segmenter (a mask per box)."""
