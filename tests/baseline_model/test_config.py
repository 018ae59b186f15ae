"""Config files: the shipped YAMLs, the mirrored snippet geometry, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from baseline_model.config import (
    Config,
    DataConfig,
    ModelConfig,
    TrainConfigError,
    config_from_dict,
    load_config,
)

CONFIGS = Path(__file__).resolve().parents[2] / "baseline_model" / "configs"


def test_shipped_configs_load():
    names = sorted(p.name for p in CONFIGS.glob("*.yaml"))
    assert names == ["synthetic_cpu.yaml", "uni_fineparser_aqa7.yaml", "uni_fineparser_finediving.yaml",
                     "uni_fineparser_mtl_aqa.yaml"]
    for name in names:
        cfg = load_config(CONFIGS / name)
        assert cfg.model.sap and cfg.model.sve and cfg.model.tap  # every component present
        assert config_from_dict(cfg.to_dict()) == cfg


def test_paper_config_is_table_1():
    cfg = load_config(CONFIGS / "uni_fineparser_finediving.yaml")
    d, m = cfg.data, cfg.model
    geometry = (d.num_frames, d.num_snippets, d.snippet_len, d.snippet_stride, d.image_size)
    assert geometry == (103, 20, 8, 5, 224)
    assert (d.num_exemplars_vote, d.exemplar_mode) == (10, "an")
    assert (m.num_queries, m.query_dim, m.sap_stage, m.sve_layers) == (6, 256, 2, [3, 4, 6, 3])
    assert m.tau_init == pytest.approx(0.07 * 256) and m.soft_label_sigma == 1.3
    assert cfg.train.lr * cfg.train.lr_backbone == pytest.approx(1e-4)  # I3D
    assert cfg.train.lr * cfg.train.lr_sve == pytest.approx(1e-3)  # ResNet34
    assert cfg.train.lr * cfg.train.lr_tau == pytest.approx(1e-4)  # tau
    assert load_config(CONFIGS / "uni_fineparser_aqa7.yaml").data.aqa7_class == "diving"


@pytest.mark.parametrize("name", ["uni_fineparser_finediving.yaml", "uni_fineparser_mtl_aqa.yaml",
                                  "uni_fineparser_aqa7.yaml"])
def test_paper_configs_train_as_the_reference_code(name):
    cfg = load_config(CONFIGS / name)
    m, d, t = cfg.model, cfg.data, cfg.train
    assert m.sve_weights_required and m.i3d_freeze_bn
    assert d.resize_mode == "reference" and d.resize == [455, 256]
    assert (t.warmup_lr, t.lr_min) == pytest.approx((1e-4, 1e-4))
    assert t.effective_batch == 16 and t.batch_size == 2 and t.accumulation(1) == 8 and t.accumulation(4) == 2
    assert t.amp == "auto"


def test_amp_modes_and_older_boolean_configs():
    assert config_from_dict({"train": {"amp": True}}).train.amp == "fp16"  # what amp: true used to mean
    assert config_from_dict({"train": {"amp": False}}).train.amp == "off"
    with pytest.raises(TrainConfigError, match="train.amp must be one of"):
        config_from_dict({"train": {"amp": "fp8"}})
    with pytest.raises(TrainConfigError, match="resize_mode"):
        config_from_dict({"data": {"resize_mode": "squeeze"}})


def test_model_mirrors_the_data_geometry_and_normalisation():
    cfg = Config(data=DataConfig(num_frames=32, num_snippets=5, snippet_stride=6, normalisation="model_rgb"))
    assert (cfg.model.num_frames, cfg.model.num_snippets, cfg.model.snippet_stride) == (32, 5, 6)
    assert cfg.model.input_normalisation == "model_rgb"
    assert "num_snippets" not in cfg.to_dict()["model"]


def _write(tmp_path, data) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(("raw", "message"), [
    ({"model": {"sapp": False}}, r"cfg.yaml: model: unknown key\(s\) \['sapp'\]"),
    ({"optim": {}}, r"unknown section\(s\) \['optim'\]"),
    ({"model": {"num_queries": "six"}}, r"model.num_queries: expected int, got 'six'"),
    ({"model": {"sap": 1}}, r"model.sap: expected bool, got 1"),
    ({"data": {"resize": [455, "256"]}}, r"data.resize: expected list\[int\]"),
    ({"model": {"num_snippets": 10}}, r"set \['num_snippets'\] in the data section"),
    ({"model": {"sap_stage": 4}}, r"model.sap_stage must be 1, 2 or 3, not 4"),
    ({"data": {"num_frames": 96}}, r"20 snippets of 8 frames at stride 5 need 103 frames, num_frames is 96"),
    ({"data": {"normalisation": "imagenet"}}, r"data.normalisation must be one of"),
    ({"train": {"batch_size": 0}}, r"train.batch_size must be >= 1"),
    ({"data": ["a"]}, r"section 'data' must be a mapping"),
    ([1, 2], r"top level must be a mapping"),
])
def test_bad_configs_name_file_and_key(tmp_path, raw, message):
    with pytest.raises(TrainConfigError, match=message) as info:
        load_config(_write(tmp_path, raw))
    assert str(tmp_path / "cfg.yaml") in str(info.value)


def test_empty_and_invalid_yaml(tmp_path):
    assert load_config(_write(tmp_path, "")) == Config()
    with pytest.raises(TrainConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "model: {sap: [\n"))
    assert load_config(_write(tmp_path, {"train": {"lr": 1}})).train.lr == 1.0  # ints accepted as floats


def test_dataclasses_validate_direct_construction():
    with pytest.raises(TrainConfigError, match="query_dim must be divisible"):
        ModelConfig(query_dim=30, num_heads=8)
    with pytest.raises(TrainConfigError, match="exemplar_mode must be an or dd"):
        DataConfig(exemplar_mode="best")
