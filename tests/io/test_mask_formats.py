"""The mask-tree format registry: built-in modules, and plug-ins from the entry point group
``hm_annotate.mask_formats``."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.io import MASK_TREE_FORMATS, davis, finediving_hm, mask_tree_format
from hm_annotate.registry import PluginError
from hm_annotate.store import MaskStore
from tests.masks import ellipse_masks, layer_from_masks


def test_builtin_formats_are_modules():
    assert MASK_TREE_FORMATS.names() == ["davis", "finediving-hm"]
    assert mask_tree_format("davis") is davis and mask_tree_format("finediving-hm") is finediving_hm
    with pytest.raises(PluginError, match=r"unknown mask format 'coco' \(known: davis, finediving-hm\)"):
        mask_tree_format("coco")


def test_entry_point_format_is_found_and_a_broken_one_named(tmp_path, monkeypatch):
    (tmp_path / "png_masks.py").write_text(textwrap.dedent("""
        from hm_annotate.io import finediving_hm

        def write_tree(store, out_dir, *, layer="curated", videos=None, ext="png", reporter=None):
            return finediving_hm.write_tree(
                store, out_dir, layer=layer, videos=videos, ext="png", reporter=reporter
            )

        read_tree = finediving_hm.read_tree
    """))
    dist = tmp_path / "png_masks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: png-masks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[hm_annotate.mask_formats]\npng-masks = png_masks\nbroken = png_masks_missing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "png_masks", raising=False)
    assert {"png-masks", "broken"} <= set(MASK_TREE_FORMATS)
    module = mask_tree_format("png-masks")
    with MaskStore.open(tmp_path / "m.h5", "a") as st:
        st.put("Ev/1", "corrected", layer_from_masks(ellipse_masks(3, 24, 32, seed=1), first_frame=7))
        assert module.write_tree(st, tmp_path / "tree") == 3
        frames, masks = st.masks("Ev/1", "corrected")
    [(vid, data)] = list(module.read_tree(tmp_path / "tree"))
    assert vid == "Ev/1" and data.frames.tolist() == frames.tolist() == [7, 8, 9]
    assert sorted(p.name for p in (tmp_path / "tree" / "Ev" / "1").iterdir())[0] == "00007.png"
    decoded = np.stack([rle.decode(data.union(i)) for i in range(len(data))])
    np.testing.assert_array_equal(decoded, masks)
    with pytest.raises(PluginError, match=r"mask format 'broken': cannot load png_masks_missing"):
        mask_tree_format("broken")
