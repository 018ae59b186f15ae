"""``hm-annotate list-videos``: the videos a dataset adapter sees, with their metadata."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import click

from hm_annotate.cli.options import dataset_options, dataset_videos
from hm_annotate.datasets import SPLITS, Video

# the JSON fields every row has (null when the dataset does not say), before any other metadata
_FIELDS = ("id", "split", "action_type", "score", "difficulty", "num_frames", "first_frame", "last_frame",
           "step_transitions", "athletes")


def _finite(value: Any) -> Any:
    """NaN/inf (possible from a metadata CSV) as null, since JSON has no spelling for them."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def video_row(video: Video) -> dict[str, Any]:
    """One video as a JSON-ready dict: the fixed fields, then the rest of its metadata."""
    md = video.metadata
    row = {
        "id": video.id,
        "num_frames": len(video.frame_numbers),
        "first_frame": video.frame_numbers[0] if video.frame_numbers else None,
        "last_frame": video.frame_numbers[-1] if video.frame_numbers else None,
    }
    row = {f: row[f] if f in row else md.get(f) for f in _FIELDS}
    row.update({k: v for k, v in md.items() if k not in row})
    row["frames_root"] = video.frames_root
    return {k: _finite(v) for k, v in row.items()}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() else f"{value:.2f}"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    """Rows as an aligned text table with a header and a one-line summary."""
    columns = [("ID", "id"), ("SPLIT", "split"), ("ACTION", "action_type"), ("SCORE", "score"),
               ("DD", "difficulty"), ("ATHL", "athletes"), ("FRAMES", "num_frames"), ("FIRST", "first_frame"),
               ("LAST", "last_frame"), ("STEPS", "step_transitions")]
    cells = [[h for h, _ in columns]] + [[_cell(r[k]) for _, k in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]
    splits = Counter(r["split"] or "no split" for r in rows)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(splits.items()))
    lines.append(f"{len(rows)} video{'' if len(rows) == 1 else 's'}" + (f" ({counts})" if counts else ""))
    return "\n".join(lines)


@click.command("list-videos")
@dataset_options(format_required=True, root_required=True)
@click.option("--split", type=click.Choice(SPLITS), default="all", show_default=True)
@click.option("--strict", is_flag=True, help="Fail on the first bad video instead of warning about it.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per video.")
@click.option("--metadata", "metadata_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV with a video_id column and any metadata columns (videos format).")
def command(dataset_format: str, data_root: str, split: str, strict: bool, as_json: bool,
            metadata_csv: Path | None) -> None:
    """List the videos a dataset adapter finds under DATA_ROOT: ids, frame ranges, metadata.

    Bad videos (missing frame folder, missing frames, unreadable video file) are reported as
    one warning line each on stderr and left out, unless --strict.
    """
    options = {"metadata_csv": metadata_csv} if metadata_csv is not None else {}
    videos = dataset_videos(dataset_format, data_root, split=split, strict=strict, **options)
    rows = [video_row(v) for v in videos]
    if as_json:  # one object per line: valid JSON that still reads (and greps) line by line
        click.echo("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]" if rows else "[]")
    else:
        click.echo(table(rows))
