"""JSON Schema checks of the store's attributes, against ``schemas/mask-store.schema.json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from hm_annotate.resources import resource_path


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in ``schemas/``, parsed once."""
    return json.loads(resource_path(f"schemas/{name}").read_text())


def _plain(value: Any) -> Any:
    """HDF5 attribute values as JSON values (numpy scalars, bytes, JSON-encoded strings)."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def attribute_validator() -> Callable[[str, dict[str, Any]], list[str]]:
    """A function checking the attributes of a ``root``, ``video`` or ``layer`` object.

    JSON-encoded attributes (``metadata``, ``provenance``) are decoded and checked too.
    """
    import jsonschema

    schema = load_schema("mask-store.schema.json")
    validators = {
        kind: jsonschema.Draft202012Validator({**schema["$defs"][kind], "$defs": schema["$defs"]})
        for kind in ("root", "video", "layer")
    }

    def check(kind: str, attrs: dict[str, Any]) -> list[str]:
        doc = {k: _plain(v) for k, v in attrs.items()}
        for key in ("metadata", "provenance"):
            if isinstance(doc.get(key), str):
                try:
                    doc[key] = json.loads(doc[key])
                except (ValueError, RecursionError):
                    return [f"attribute {key!r} is not valid JSON"]
        return [
            f"attribute {'/'.join(map(str, e.absolute_path)) or kind}: {e.message}"
            for e in sorted(validators[kind].iter_errors(doc), key=lambda e: list(e.absolute_path))
        ]

    return check
