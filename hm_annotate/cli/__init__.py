"""The ``hm-annotate`` command line: a thin, lazily loaded layer over the library.

Each command lives in its own module (``hm_annotate.cli.<module>``) exposing a click command
named ``command``; modules are imported only when their command runs, so ``--help`` stays fast
and torch is never imported for commands that do not need it.
"""

from __future__ import annotations

import importlib

import click

from hm_annotate import __version__
from hm_annotate.cli.run import run_cli

# command name -> (module under hm_annotate.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("info", "Summarise a mask store: videos, frames and masks per layer, bytes."),
    "validate": ("validate", "Check a mask store against its specification."),
    "import-masks": ("import_masks", "Import a tree of per-frame mask images into a store."),
    "export-masks": ("export_masks", "Export a store layer as a tree of per-frame mask images."),
    "export-coco": ("export_coco", "Export a store layer as COCO instance masks (RLE) for correction."),
    "import-coco": ("import_coco", "Import corrected masks from a COCO file (RLE or polygons) into a store."),
    "export-ytvis": ("export_ytvis", "Export a store layer as YouTube-VIS JSON (one track per athlete)."),
    "import-ytvis": ("import_ytvis", "Import corrected masks from a YouTube-VIS file into a store."),
    "export-cvat": ("export_cvat", "Export one video's masks and frames as zips for a CVAT correction task."),
    "evaluate": (
        "evaluate",
        "Score predicted masks against reference masks with the DAVIS measures (J, F, J&F).",
    ),
    "weights": ("weights", "Download and verify Segment Anything checkpoints."),
    "merge": ("merge", "Combine shard stores into one; refuses conflicting duplicates."),
    "list-videos": ("list_videos", "List the videos a dataset adapter sees, with their metadata."),
    "stats": ("stats", "Dataset statistics: masks per action type, coverage, areas, stability, agreement."),
    "review": ("review", "Rank frames most likely wrong, with reasons, so the worst get corrected first."),
    "render": ("render", "Overlay a video's masks on its frames as mp4, gif or PNGs (pseudo vs corrected)."),
    "export-boxes": ("export_boxes", "Per-frame actor boxes (union of the athletes' masks) as CSV or JSON."),
    "pseudo-label": (
        "pseudo_label",
        "Make pseudo masks (PM) for every frame of every video: SAM or GrabCut plus a tracker.",
    ),
    "synth": ("synth", "Generate a synthetic dataset in the exact FineDiving on-disk format."),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"hm_annotate.cli.{COMMANDS[name][0]}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hm-annotate")
def cli() -> None:
    """Human-centric foreground action masks for sports AQA video datasets."""


def main(argv: list[str] | None = None) -> None:
    """Entry point; exits by the rule of ``hm_annotate.cli.run`` (1: library error, 2: option mistake)."""
    run_cli(cli, "hm-annotate", argv)
