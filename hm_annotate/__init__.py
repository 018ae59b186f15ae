"""hm-annotate: human-centric foreground action masks for AQA video datasets."""

__version__ = "0.1.0"
