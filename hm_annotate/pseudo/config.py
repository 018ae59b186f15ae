"""Pipeline YAML files: what ``pseudo-label`` runs, checked against ``schemas/pipeline.schema.json``.

A pipeline names a segmenter, a tracker and a detector with their parameters, plus batch size,
seed, the rules for declaring a target lost (``loss``) and those for finding it again and starting
it from a detection (``targets``). The shipped ones live in ``pipelines/``
(``finediving-hm``, ``mtl-aqa-hm``, ``aqa7-hm``, ``synthetic-demo``) and can be named instead of
given as a path. Command-line options override the file; parameters in the file belong to the
plug-in named there, so choosing another one on the command line starts from its defaults.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from hm_annotate.errors import HMError
from hm_annotate.resources import resource_path

DEFAULT_PIPELINE = "synthetic-demo"


class ConfigError(HMError):
    """A pipeline file or a combination of options that cannot run."""


@dataclass(frozen=True)
class Stage:
    """A plug-in by registry name with its keyword parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LossRules:
    """When a tracked target counts as lost and is looked for again."""

    min_confidence: float = 0.2
    area_collapse: float = 0.3
    min_inside: float = 0.5
    history: int = 10
    min_similarity: float = 0.5


@dataclass(frozen=True)
class TargetRules:
    """How a target is matched to detections and started from one (see ``targets``); the defaults
    are the values tuned on the synthetic divers and the shared real footage together."""

    moving: float = 25.0  # difference from the camera-compensated background (0-255) that is motion
    min_moving: float = 0.05  # share of a detected box that must move for its motion to be a prior
    max_jump: float = 4.0  # box diagonals beyond which a detection is not the lost athlete
    max_size_change: float = 3.0  # box area ratio (to the recent masks' median box) beyond which a
    # detection is not the lost athlete
    established: int = 5  # accepted masks after which a target's size and colours are known


@dataclass(frozen=True)
class PipelineConfig:
    """Everything one pseudo-label run needs besides the videos and the output store."""

    name: str
    segmenter: Stage
    tracker: Stage
    detector: Stage | None = None
    dataset_format: str | None = None
    split: str = "all"
    prompts: str | None = None
    objects: int | None = None
    scan_step: int = 3
    batch_size: int = 4
    prefetch: int = 2
    device: str = "auto"
    seed: int = 0
    loss: LossRules = LossRules()
    targets: TargetRules = TargetRules()
    source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, for provenance."""
        return json.loads(json.dumps(asdict(self)))


def shipped_pipelines() -> list[str]:
    """Names of the pipelines that come with hm-annotate."""
    return sorted(p.stem for p in resource_path("pipelines").glob("*.yaml"))


def _validate(doc: Any, where: str) -> None:
    import jsonschema

    schema = json.loads(resource_path("schemas/pipeline.schema.json").read_text())
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path) or "top level"
        raise ConfigError(f"{where}: {at}: {error.message}")


def _stage(value: dict[str, Any] | None) -> Stage | None:
    return None if value is None else Stage(value["name"], dict(value.get("params") or {}))


def parse_pipeline(doc: Any, where: str) -> PipelineConfig:
    """A config from a decoded YAML document, after schema validation."""
    _validate(doc, where)
    dataset = doc.get("dataset") or {}
    return PipelineConfig(
        name=doc["name"],
        segmenter=_stage(doc["segmenter"]),
        tracker=_stage(doc["tracker"]),
        detector=_stage(doc.get("detector")),
        dataset_format=dataset.get("format"),
        split=dataset.get("split", "all"),
        prompts=doc.get("prompts"),
        objects=doc.get("objects"),
        scan_step=doc.get("scan_step", 3),
        batch_size=doc.get("batch_size", 4),
        prefetch=doc.get("prefetch", 2),
        device=doc.get("device", "auto"),
        seed=doc.get("seed", 0),
        loss=LossRules(**(doc.get("loss") or {})),
        targets=TargetRules(**(doc.get("targets") or {})),
        source=where,
    )


def load_pipeline(path_or_name: str | Path) -> PipelineConfig:
    """Read a pipeline YAML file, or a shipped pipeline by name (``finediving-hm``)."""
    path = Path(path_or_name)
    if not path.is_file():
        names = shipped_pipelines()
        if str(path_or_name) not in names:
            raise ConfigError(
                f"{path_or_name}: no such pipeline file or shipped pipeline ({', '.join(names)})"
            )
        path = resource_path(f"pipelines/{path_or_name}.yaml")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_pipeline(doc, str(path))


def default_pipeline(dataset_format: str | None) -> str:
    """The shipped pipeline for a dataset format (``<format>-hm``), else the CPU demo pipeline."""
    name = f"{dataset_format}-hm"
    return name if dataset_format and name in shipped_pipelines() else DEFAULT_PIPELINE


def _choose(stage: Stage | None, name: str | None) -> Stage | None:
    if name is None:
        return stage
    if name == "none":
        return None
    return stage if stage is not None and stage.name == name else Stage(name)


def with_overrides(
    config: PipelineConfig,
    *,
    dataset_format: str | None = None,
    split: str | None = None,
    segmenter: str | None = None,
    sam_model: str | None = None,
    sam_checkpoint: str | None = None,
    tracker: str | None = None,
    detector: str | None = None,
    prompts: str | None = None,
    device: str | None = None,
    batch_size: int | None = None,
) -> PipelineConfig:
    """The config with command-line choices applied (None keeps the file's value)."""
    seg = _choose(config.segmenter, segmenter)
    if (sam_model or sam_checkpoint) and seg.name != "sam":
        raise ConfigError(f"sam_model and sam_checkpoint apply to segmenter 'sam', not {seg.name!r}")
    if sam_model or sam_checkpoint:
        params = dict(seg.params)
        if sam_model:
            params["model"] = sam_model
            params.pop("model_config", None)
        if sam_checkpoint:
            params["checkpoint"] = sam_checkpoint
        seg = Stage("sam", params)
    changes: dict[str, Any] = {
        "segmenter": seg,
        "tracker": _choose(config.tracker, tracker),
        "detector": _choose(config.detector, detector),
    }
    for key, value in (
        ("dataset_format", dataset_format),
        ("split", split),
        ("prompts", prompts),
        ("device", device),
        ("batch_size", batch_size),
    ):
        if value is not None:
            changes[key] = value
    return replace(config, **changes)
