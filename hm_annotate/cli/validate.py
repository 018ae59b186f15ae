"""``hm-annotate validate``: check a store against its specification."""

from __future__ import annotations

import json
import sys

import click

from hm_annotate.store import validate


@click.command("validate")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print {valid, findings} as JSON.")
def command(store: str, as_json: bool) -> None:
    """Check STORE; exit 0 when valid, 1 with one line per finding otherwise."""
    findings = validate(store)
    if as_json:
        click.echo(json.dumps({"store": store, "valid": not findings, "findings": findings}, indent=2))
    elif findings:
        for line in findings:
            click.echo(line)
    else:
        click.echo(f"{store}: valid")
    if findings:
        sys.exit(1)
