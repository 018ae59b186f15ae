"""The adapter registry: names, user adapters, entry points, ``load_videos`` checks."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

import hm_annotate.datasets as datasets
from hm_annotate.datasets import DatasetError, Video, get_adapter, load_videos, register_adapter
from tests.datasets.fixtures import make_finediving


@pytest.fixture
def registry(monkeypatch):
    """The registry with a private copy of its registrations, so tests that register adapters
    leave no trace."""
    monkeypatch.setattr(datasets.ADAPTERS, "_registered", dict(datasets.ADAPTERS._registered))
    return datasets.ADAPTERS


def three_frames(data_root, split="all", strict=False, colour=7):
    frame = np.full((4, 4, 3), colour, np.uint8)
    return [Video(id=f"clip{i}", frame_numbers=(0, 1, 2), read_frame=lambda n: frame) for i in range(3)]


def test_builtin_names():
    assert {"finediving", "mtl-aqa", "aqa7", "videos"} <= set(datasets.adapter_names())
    assert get_adapter("finediving") is datasets.finediving.load


def test_unknown_format_lists_known_ones():
    with pytest.raises(DatasetError, match=r"format 'nope' \(known: aqa7, finediving, mtl-aqa"):
        get_adapter("nope")


def test_registered_adapter_is_used_with_its_options_and_id_filter(registry, tmp_path):
    register_adapter("mine", three_frames)
    videos = load_videos("mine", tmp_path, videos=["clip2", "clip0"], colour=9)
    assert [v.id for v in videos] == ["clip2", "clip0"]
    assert videos[0].read_frame(1)[0, 0, 0] == 9
    with pytest.raises(DatasetError, match="no video clipX, clipY in the mine all split"):
        load_videos("mine", tmp_path, videos=["clip1", "clipX", "clipY"])
    with pytest.raises(TypeError):
        register_adapter("broken", "not callable")


def test_options_an_adapter_does_not_take_are_refused(tmp_path):
    make_finediving(tmp_path)
    with pytest.raises(DatasetError, match="dataset format 'finediving' has no parameter 'metadata_csv'"):
        load_videos("finediving", tmp_path, metadata_csv="x.csv")


def test_bad_split_and_missing_root(tmp_path):
    with pytest.raises(DatasetError, match="unknown split 'val'"):
        load_videos("finediving", tmp_path, split="val")
    with pytest.raises(DatasetError, match="nowhere: data root is not a directory"):
        load_videos("finediving", tmp_path / "nowhere")


def test_entry_point_adapter_is_discovered(registry, tmp_path, monkeypatch):
    (tmp_path / "my_hm_plugin.py").write_text(textwrap.dedent("""
        from hm_annotate.datasets import Video
        def load(data_root, split="all", strict=False):
            return [Video(id="plugin/1", frame_numbers=(5,), read_frame=lambda n: None)]
    """))
    dist = tmp_path / "my_hm_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-hm-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[hm_annotate.datasets]\nplugin-format = my_hm_plugin:load\n"
                                           "broken-format = my_hm_plugin:missing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_hm_plugin", raising=False)
    assert {"plugin-format", "broken-format"} <= set(datasets.adapter_names())
    assert [v.id for v in load_videos("plugin-format", tmp_path)] == ["plugin/1"]
    assert "plugin-format" in registry
    with pytest.raises(DatasetError, match="format 'broken-format': cannot load my_hm_plugin:missing"):
        get_adapter("broken-format")
