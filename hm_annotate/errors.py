"""Exception types the library raises; the CLI turns them into one-line errors."""

from __future__ import annotations


class HMError(Exception):
    """Base of every error hm-annotate reports to users as one line (no traceback)."""
