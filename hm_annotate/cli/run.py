"""How a click group runs as a console script: the one exit-code rule of every command line.

0: done. 1: the work failed (a library ``HMError`` or an ``OSError``, printed as one ``error:``
line). 2: a usage or option mistake (click's usage message; commands raise ``click.UsageError``
or ``click.BadParameter`` for those they find before any work). 130: interrupted (Ctrl-C).
Both ``hm-annotate`` and ``hm-baseline`` run through here.
"""

from __future__ import annotations

import sys

import click

from hm_annotate.errors import HMError


def run_cli(group: click.Command, prog_name: str, argv: list[str] | None = None) -> None:
    """Run ``group`` with ``argv`` (default: the process's arguments) and exit by the rule above."""
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
