"""Uni-FineParser and its parts: I3D backbone, SAP, SVE, TAP and the contrastive regressor."""

from baseline_model.models.uni_fineparser import UniFineParser, build_model, vote

__all__ = ["UniFineParser", "build_model", "vote"]
