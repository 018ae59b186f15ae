"""``hm-annotate weights``: download and list Segment Anything checkpoints."""

from __future__ import annotations

from pathlib import Path

import click

from hm_annotate.weights import SAM_CHECKPOINTS, default_cache_dir, download, find_checkpoint

_DIR_HELP = "Checkpoint directory (default: $HM_ANNOTATE_CACHE or ~/.cache/hm-annotate/checkpoints)."


@click.group(name="weights")
def command() -> None:
    """Download and verify Segment Anything checkpoints."""


@command.command(name="download")
@click.argument("model", type=click.Choice(sorted(SAM_CHECKPOINTS)))
@click.option("--dir", "dest_dir", type=click.Path(file_okay=False, path_type=Path), help=_DIR_HELP)
@click.option("--url", help="Download from this address instead of Meta's (a mirror of the same file).")
def download_command(model: str, dest_dir: Path | None, url: str | None) -> None:
    """Download MODEL's checkpoint (resumable), verify it and print its path."""
    from hm_annotate.reporting import Reporter

    path = download(model, dest_dir, url=url, reporter=Reporter(progress=None, echo=True))
    click.echo(str(path))


@command.command(name="list")
@click.option("--dir", "dest_dir", type=click.Path(file_okay=False, path_type=Path), help=_DIR_HELP)
def list_command(dest_dir: Path | None) -> None:
    """List the known checkpoints and whether each is present."""
    where = dest_dir if dest_dir is not None else default_cache_dir()
    click.echo(f"directory: {where}")
    for model in sorted(SAM_CHECKPOINTS):
        name, _url, size, sha = SAM_CHECKPOINTS[model]
        found = find_checkpoint(model, where)
        status = "present" if found else "missing"
        check = f"sha256 {sha[:12]}..." if sha else "size only"
        click.echo(f"{model:6} {name:22} {size / 1e6:8.1f} MB  {check:22} {status}")
