"""Option groups several commands share, declared once so that their names, choices, help and
metavars agree from command to command, and the checks that turn an option mistake into a usage
error (exit status 2) before any work starts."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from hm_annotate.errors import HMError

F = TypeVar("F", bound=Callable[..., Any])

DATASET_FORMAT_HELP = "Dataset adapter: finediving, mtl-aqa, aqa7, videos, or one a plug-in registers."


class AliasOption(click.Option):
    """An option whose old spellings (``aliases``) still work but stay out of ``--help``."""

    def __init__(self, *args: Any, aliases: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = tuple(aliases)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        shown = self.opts
        self.opts = [o for o in shown if o not in self.aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown


def stack(fn: F, options: Sequence[Callable[[F], F]]) -> F:
    """Apply ``options`` so that they show in ``--help`` in the order given."""
    for option in reversed(options):
        fn = option(fn)
    return fn


def dataset_options(
    *, format_required: bool = False, root_required: bool = False, old_name: bool = False, note: str = ""
) -> Callable[[F], F]:
    """``--dataset-format NAME --data-root DIR`` (parameters ``dataset_format``, ``data_root``).

    ``old_name``: also accept ``--dataset``, the name the export and import commands had (hidden
    from ``--help``, kept so that scripts keep working). ``note`` ends the format's help: what
    this command does with the dataset.
    """
    aliases = ["--dataset"] if old_name else []
    return lambda fn: stack(fn, [
        click.option("--dataset-format", *aliases, "dataset_format", cls=AliasOption, aliases=aliases,
                     required=format_required, metavar="NAME",
                     help=f"{DATASET_FORMAT_HELP} {note}".strip()),
        click.option("--data-root", required=root_required, type=click.Path(exists=True, file_okay=False),
                     help="Root folder of the dataset."),
    ])  # fmt: skip


def dataset_videos(
    dataset_format: str | None, data_root: str | None, videos: Sequence[str] | None = None, **options: Any
) -> list | None:
    """The dataset's Video records when both options are given; neither: None; one alone: a usage
    error. Videos the adapter skips as bad become one ``warning:`` line each on stderr. ``options``
    go to ``load_videos`` (``split``, ``strict``, adapter options)."""
    if (dataset_format is None) != (data_root is None):
        raise click.UsageError("--dataset-format and --data-root go together")
    if dataset_format is None:
        return None
    from hm_annotate.datasets import DatasetWarning, load_videos
    from hm_annotate.reporting import Reporter

    with Reporter(echo=True).capture(DatasetWarning):
        return load_videos(dataset_format, data_root, videos=videos, **options)


def dataset_frame_paths(dataset_format: str | None, data_root: str | None) -> dict | None:
    """Each video's frame paths in the dataset (file names of the COCO-style formats); None without
    a dataset. One of the two options alone is a usage error, as for ``dataset_videos``."""
    videos = dataset_videos(dataset_format, data_root)
    if videos is None:
        return None
    from hm_annotate.io.coco import dataset_frame_paths as frame_paths

    return frame_paths(videos)


def layer_option(default: str, *, write: bool = False) -> Callable[[F], F]:
    """``--layer``: a stored layer to write (``write``), else any layer or view to read."""
    from hm_annotate.store import LAYERS, VIEWS  # here: commands without --layer need no h5py
    if write:
        return click.option("--layer", type=click.Choice(LAYERS), default=default, show_default=True,
                            help="Layer to write.")  # fmt: skip
    return click.option("--layer", type=click.Choice(VIEWS), default=default, show_default=True,
                        help="Layer to read (curated: corrected masks over pseudo ones).")  # fmt: skip


def videos_option(name: str = "videos") -> Callable[[F], F]:
    """``--videos ID`` (repeatable), passed as the parameter ``name``."""
    return click.option("--videos", name, multiple=True, metavar="ID", help="Only these videos (repeatable).")


def file_name_pattern_option(help: str) -> Callable[[F], F]:
    """``--file-name-pattern``: a frame path template with ``{video_id}`` and ``{frame}``, checked
    before any work."""
    check = checked_by("hm_annotate.io.coco:FileNamePattern")
    return click.option("--file-name-pattern", default=None, callback=check, help=help)


def excludes(other: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback for a flag that cannot go with the flag whose parameter is ``other``: given
    both, a usage error, whichever of the two comes first."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value and ctx.params.get(other):
            flags = sorted([param.opts[0], "--" + other.replace("_", "-")])
            raise click.UsageError(f"{flags[0]} and {flags[1]} exclude each other: choose one", ctx=ctx)
        return value

    return callback


def checked_by(check: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback that runs the library's own check (``"module:function"``, imported only
    when the option is given) on an option's value before any work: an ``HMError`` becomes a
    usage error naming the option. The value passes on unchanged."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            module, _, name = check.partition(":")
            try:
                getattr(importlib.import_module(module), name)(value)
            except HMError as exc:
                raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
        return value

    return callback
