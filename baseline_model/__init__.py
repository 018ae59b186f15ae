"""Uni-FineParser baseline trainer: the reference consumer of hm-annotate masks."""
