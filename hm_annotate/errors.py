"""Exception types the library raises; the CLI turns them into one-line errors."""

from __future__ import annotations

import sys
from typing import Any


class HMError(Exception):
    """Base of every error hm-annotate reports to users as one line (no traceback)."""


def run_cli(group: Any, prog_name: str, argv: list[str] | None = None) -> None:
    """Run a click group as a console script: library errors become one ``error:`` line on
    stderr and exit status 1, usage errors click's message and status 2, Ctrl-C status 130."""
    import click

    try:
        group.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (HMError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except RecursionError:  # input nested deeper than any check foresaw
        click.echo("error: input nested too deeply to process", err=True)
        sys.exit(1)
    except MemoryError:
        click.echo("error: out of memory (input too large?)", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
