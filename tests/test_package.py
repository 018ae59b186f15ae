"""The package face: every advertised name imports, and importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hm_annotate


@pytest.mark.parametrize("name", [n for n in hm_annotate.__all__ if n != "__version__"])
def test_every_exported_name_resolves(name: str) -> None:
    value = getattr(hm_annotate, name)
    assert value is not None and name in dir(hm_annotate)


def test_exports_are_the_library_objects() -> None:
    from hm_annotate.pseudo.pipeline import run
    from hm_annotate.store import MaskStore

    assert hm_annotate.MaskStore is MaskStore and hm_annotate.run_pipeline is run


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        hm_annotate.Nope  # noqa: B018


def test_import_does_not_load_heavy_dependencies() -> None:
    code = "import sys, hm_annotate; print(sorted(m for m in ('h5py', 'cv2', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
