"""The plug-ins of a pseudo-label run (segmenter, tracker factory, detector, prompts), built once
from a pipeline config, and the provenance record stored with every video's masks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hm_annotate import __version__
from hm_annotate.pseudo.config import PipelineConfig
from hm_annotate.pseudo.detectors import DETECTORS, Detector
from hm_annotate.pseudo.prompts import Prompts, load_prompts
from hm_annotate.pseudo.segmenters import SEGMENTERS, Segmenter
from hm_annotate.pseudo.trackers import TRACKERS, Tracker


@dataclass
class Components:
    """The plug-ins of one run, built once from a config."""

    config: PipelineConfig
    segmenter: Segmenter
    new_tracker: Callable[[], Tracker]
    detector: Detector | None
    prompts: Prompts | None

    @classmethod
    def build(cls, config: PipelineConfig, prompts: Prompts | None = None) -> Components:
        """Create the plug-ins; ``prompts`` (already loaded and checked) defaults to the config's file."""
        if prompts is None and config.prompts:
            prompts = load_prompts(config.prompts)
        TRACKERS.create(config.tracker.name, **config.tracker.params)  # fail on bad parameters now

        def new_tracker() -> Tracker:
            return TRACKERS.create(config.tracker.name, **config.tracker.params)

        detector = None
        if config.detector is not None:
            detector = DETECTORS.create(config.detector.name, **config.detector.params)
        seg_params = dict(config.segmenter.params)
        if SEGMENTERS.accepts(config.segmenter.name, "device"):
            seg_params.setdefault("device", config.device)
        segmenter = SEGMENTERS.create(config.segmenter.name, **seg_params)
        return cls(config, segmenter, new_tracker, detector, prompts)

    def provenance(self) -> dict[str, Any]:
        """The record stored with every video's masks (time is filled in per video)."""
        seg = self.segmenter.describe()
        tracker = self.new_tracker()
        config = self.config.as_dict()
        return {
            "tool": "hm-annotate pseudo-label",
            "tool_version": __version__,
            "segmenter": self.config.segmenter.name,
            "model": seg.get("model"),
            "checkpoint_sha256": seg.get("checkpoint_sha256"),
            "tracker": self.config.tracker.name,
            "prompts": self.prompts.describe() if self.prompts else None,
            "parameters": {
                "pipeline": self.config.name,
                "pipeline_file": self.config.source,
                "segmenter": seg,
                "tracker": tracker.describe(),
                "detector": self.detector.describe() if self.detector else None,
                "batch_size": self.config.batch_size,
                "seed": self.config.seed,
                "objects": self.config.objects,
                "scan_step": self.config.scan_step,
                "loss": config["loss"],
                "targets": config["targets"],
            },
        }
