"""``hm-annotate evaluate``: DAVIS J, F and J&F of one store's masks against another's."""

from __future__ import annotations

import json
import math

import click

from hm_annotate.cli.options import videos_option
from hm_annotate.evaluate import PROTOCOLS, TASKS, evaluate_stores
from hm_annotate.reporting import Reporter
from hm_annotate.store import VIEWS

_LAYERS = click.Choice(VIEWS)
_COLUMNS = ("JF_mean", "J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay")
_HEADERS = ("J&F", "J-mean", "J-recall", "J-decay", "F-mean", "F-recall", "F-decay")


def _json_safe(obj):
    """NaN (a measure over no frames) becomes null: JSON has no NaN."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj


def _row(label: str, figures: dict, width: int) -> str:
    cells = "".join(f"{figures[k]:>10.3f}" for k in _COLUMNS)
    counts = f"{figures['frames']:>8}{figures['missing_frames']:>9}" if "frames" in figures else ""
    return f"{label:<{width}}{cells}{counts}"


def _table(title: str, rows: dict[str, dict], width: int) -> None:
    click.echo(f"\n{title}")
    counts = f"{'frames':>8}{'missing':>9}" if "frames" in next(iter(rows.values())) else ""
    click.echo(f"{'':<{width}}" + "".join(f"{h:>10}" for h in _HEADERS) + counts)
    for label, figures in rows.items():
        click.echo(_row(label, figures, width))


@click.command("evaluate")
@click.argument("pred", type=click.Path(dir_okay=False))
@click.option("--reference", "ref", required=True, type=click.Path(dir_okay=False),
              help="Store holding the reference masks (may be PRED itself).")
@click.option("--pred-layer", default="pseudo", show_default=True, type=_LAYERS,
              help="Layer of PRED to score.")
@click.option("--ref-layer", default="corrected", show_default=True, type=_LAYERS,
              help="Layer of the reference store to score against.")
@videos_option()
@click.option("--protocol", default="per-object", show_default=True, type=click.Choice(PROTOCOLS),
              help="per-object: every athlete scored (DAVIS, YouTube-VOS); union: the human-centric "
              "foreground of a frame as one object (the paper's single mask).")
@click.option("--task", default="semi-supervised", show_default=True, type=click.Choice(TASKS),
              help="semi-supervised: objects by id, each video's first and last reference frame left "
              "out; unsupervised: objects paired by the Hungarian method on mean J&F, every frame.")
@click.option("--bound-th", default=0.008, show_default=True, type=float,
              help="Boundary tolerance: fraction of the image diagonal, or pixels if >= 1.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def command(
    pred: str,
    ref: str,
    pred_layer: str,
    ref_layer: str,
    videos: tuple[str, ...],
    protocol: str,
    task: str,
    bound_th: float,
    as_json: bool,
) -> None:
    """Score PRED's masks against the reference with the DAVIS measures.

    Objects are compared on the frames of the reference layer as the official davis2017-evaluation
    does for --task (see --protocol for what an object is); reference frames PRED lacks count as
    empty predictions. Overall figures are means over objects (as DAVIS reports them), per video
    and per action type means over their objects; decay is the mean of the first quarter of the
    frames minus that of the last quarter.
    """
    result = evaluate_stores(
        pred, ref, pred_layer=pred_layer, ref_layer=ref_layer, videos=list(videos) or None,
        protocol=protocol, task=task, bound_th=bound_th, reporter=Reporter(progress=None, echo=True),
    )
    if as_json:
        click.echo(json.dumps(_json_safe(result), indent=2))
        return
    click.echo(f"prediction  {result['pred']} [{pred_layer}]")
    click.echo(f"reference   {result['reference']} [{ref_layer}]")
    click.echo(
        f"protocol {protocol}, task {task}: videos {result['videos']}, objects {result['objects']}, "
        f"reference frames {result['frames']}, bound_th {bound_th}"
    )
    if result["missing_frames"]:
        lacking = sum(1 for r in result["per_video"].values() if r["missing_frames"])
        click.echo(
            f"note: {result['missing_frames']} reference frames in {lacking} videos have no prediction "
            "and count as empty predictions"
        )
    per_video = result["per_video"]
    per_object = result["per_object"]
    width = max(12, *(len(v) + 2 for v in per_object), *(len(t) + 7 for t in result["per_action_type"]))
    _table("overall (mean over objects)", {"all": result}, width)
    by_type = {f"{t} ({d['videos']})": d for t, d in result["per_action_type"].items()}
    _table("per action type (videos; mean over their objects)", by_type, width)
    _table("per video (mean over its objects)", per_video, width)
    if protocol == "per-object":
        _table("per object (<video>_<id>)", per_object, width)
