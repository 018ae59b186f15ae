from __future__ import annotations

import pytest
import yaml

from hm_annotate.pseudo.config import (
    ConfigError,
    Stage,
    TargetRules,
    default_pipeline,
    load_pipeline,
    shipped_pipelines,
    with_overrides,
)


def test_shipped_pipelines_validate():
    assert shipped_pipelines() == ["aqa7-hm", "finediving-hm", "mtl-aqa-hm", "synthetic-demo"]
    for name in shipped_pipelines():
        cfg = load_pipeline(name)
        assert cfg.name == name and cfg.source.endswith(f"{name}.yaml")
    fd = load_pipeline("finediving-hm")
    assert fd.segmenter == Stage("sam", {"model": "vit_h", "multimask": True})
    assert fd.dataset_format == "finediving" and fd.detector.name == "motion"
    assert default_pipeline("finediving") == "finediving-hm"
    assert default_pipeline("videos") == default_pipeline(None) == "synthetic-demo"


def test_schema_errors_name_the_place(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(
        yaml.safe_dump(
            {"name": "x", "segmenter": {"name": "grabcut"}, "tracker": {"name": "kcf"}, "batch_size": 0}
        )
    )
    with pytest.raises(ConfigError, match=r"p.yaml: batch_size: 0 is less than the minimum of 1"):
        load_pipeline(p)
    p.write_text(yaml.safe_dump({"name": "x", "segmenter": {"name": "grabcut"}}))
    with pytest.raises(ConfigError, match="'tracker' is a required property"):
        load_pipeline(p)
    p.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_pipeline(p)
    with pytest.raises(ConfigError, match="no such pipeline file or shipped pipeline"):
        load_pipeline("nowhere-hm")


def test_command_line_overrides():
    base = load_pipeline("finediving-hm")
    same = with_overrides(base, sam_model="vit_b", sam_checkpoint="/w/b.pth", batch_size=2, split="test")
    assert same.segmenter.params == {"model": "vit_b", "multimask": True, "checkpoint": "/w/b.pth"}
    assert (same.batch_size, same.split, same.tracker) == (2, "test", base.tracker)
    other = with_overrides(base, segmenter="grabcut", tracker="kcf", detector="none", prompts="p.csv")
    assert other.segmenter == Stage("grabcut") and other.tracker == Stage("kcf")
    assert other.detector is None and other.prompts == "p.csv"
    assert with_overrides(base, tracker="csrt").tracker == base.tracker  # same name keeps its params
    with pytest.raises(ConfigError, match="apply to segmenter 'sam', not 'grabcut'"):
        with_overrides(base, segmenter="grabcut", sam_model="vit_b")


def test_the_targets_section_sets_the_matching_rules_and_refuses_unknown_ones(tmp_path):
    """``targets:`` is optional (the tuned defaults: motion 25, 5% moving, 4 diagonals, 3x size,
    5 masks), checked like the rest of the file, and a misspelt rule is named, not ignored."""
    assert load_pipeline("synthetic-demo").targets == TargetRules()
    assert TargetRules() == TargetRules(
        moving=25.0, min_moving=0.05, max_jump=4.0, max_size_change=3.0, established=5
    )
    doc = {"name": "x", "segmenter": {"name": "grabcut"}, "tracker": {"name": "kcf"}}
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump({**doc, "targets": {"max_jump": 2.5, "established": 3}}))
    cfg = load_pipeline(p)
    assert cfg.targets == TargetRules(max_jump=2.5, established=3)
    assert cfg.as_dict()["targets"]["max_jump"] == 2.5
    p.write_text(yaml.safe_dump({**doc, "targets": {"max_jumps": 2.5}}))
    with pytest.raises(
        ConfigError, match=r"p.yaml: targets: Additional properties .*'max_jumps' was unexpected"
    ):
        load_pipeline(p)
    p.write_text(yaml.safe_dump({**doc, "targets": {"max_size_change": 0.5}}))
    with pytest.raises(
        ConfigError, match=r"p.yaml: targets/max_size_change: 0.5 is less than the minimum of 1"
    ):
        load_pipeline(p)
