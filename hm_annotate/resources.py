"""Find the files shipped beside the code: ``schemas/`` and ``pipelines/``.

In the repository they are top-level folders; in a wheel they live in ``hm_annotate/_data/``
(symlinks in the repository point there), so one lookup serves both.
"""

from __future__ import annotations

from pathlib import Path

from hm_annotate.errors import HMError

_DATA = Path(__file__).resolve().parent / "_data"


def resource_path(relative: str) -> Path:
    """Path of a shipped resource such as ``"schemas/pipeline.schema.json"``."""
    path = _DATA / relative
    if not path.exists():
        raise HMError(f"resource {relative!r} is missing from this installation ({path})")
    return path
