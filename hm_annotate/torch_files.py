"""Reading PyTorch files (checkpoints, state dicts) that users point us at.

``torch.load(weights_only=True)`` never runs code, but on a file that is not a PyTorch file its
unpickler can fail with almost any exception type (KeyError, IndexError, struct.error...). Every
caller wants one thing: the contents, or one line saying why the file cannot be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hm_annotate.errors import HMError


class UnreadableTorchFile(HMError):
    """A file ``torch.load`` cannot read; ``reason`` is the first line of what torch said."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: cannot read PyTorch file ({reason})")
        self.path = path
        self.reason = reason


def load_torch_file(path: str | Path, *, mmap: bool = False) -> Any:
    """``torch.load`` on CPU with ``weights_only``; ``mmap`` maps zip-format files lazily and falls
    back to a plain read for legacy (non-zip) files."""
    import torch

    path = Path(path)
    try:
        if mmap:
            try:
                return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as exc:
                if "mmap" not in str(exc):
                    raise
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # arbitrary bytes make the unpickler raise almost anything
        text = str(exc).strip()
        raise UnreadableTorchFile(path, text.splitlines()[0] if text else type(exc).__name__) from None
