"""Exception types the library raises; the CLI (``hm_annotate.cli.run``) turns them into one-line
errors and exit status 1."""

from __future__ import annotations


class HMError(Exception):
    """Base of every error hm-annotate reports to users as one line (no traceback)."""
