"""``run_cli``: the exit-code rule every console script of the project follows."""

from __future__ import annotations

import click
import pytest

from hm_annotate.cli.run import run_cli
from hm_annotate.errors import HMError

RAISED = {
    "library": HMError("store.h5: no such store"),
    "os": FileNotFoundError(2, "No such file or directory", "x.h5"),
    "usage": click.UsageError("--a and --b go together"),
    "value": click.BadParameter("must be positive", param_hint="'--n'"),
    "ctrl-c": KeyboardInterrupt(),
    "abort": click.Abort(),
}


@click.group()
def group() -> None:
    """A console script whose commands fail in every way a command can."""


@group.command("fail")
@click.argument("how", type=click.Choice(sorted(RAISED)))
def fail(how: str) -> None:
    raise RAISED[how]


@group.command("ok")
def ok() -> None:
    click.echo("done")


@pytest.mark.parametrize(
    ("argv", "code", "stderr"),
    [
        (["fail", "library"], 1, "error: store.h5: no such store\n"),
        (["fail", "os"], 1, "error: [Errno 2] No such file or directory: 'x.h5'\n"),
        (["fail", "usage"], 2, "Usage: prog fail [OPTIONS] {abort|ctrl-c|library|os|usage|value}\n"
         "Try 'prog fail --help' for help.\n\nError: --a and --b go together\n"),
        (["fail", "value"], 2, "Error: Invalid value for '--n': must be positive\n"),
        (["fail", "nope"], 2, "Error: Invalid value for '{abort|ctrl-c|library|os|usage|value}'"),
        (["nope"], 2, "Error: No such command 'nope'."),
        (["fail", "ctrl-c"], 130, "\naborted\n"),  # click turns Ctrl-C into Abort
        (["fail", "abort"], 130, "aborted\n"),
    ],
)
def test_exit_codes(argv, code, stderr, capsys):
    with pytest.raises(SystemExit) as exited:
        run_cli(group, "prog", argv)
    err = capsys.readouterr().err
    assert exited.value.code == code
    assert (err == stderr) if code != 2 else (stderr in err and err.startswith("Usage: prog")), err


def test_success_returns(capsys):
    run_cli(group, "prog", ["ok"])
    assert capsys.readouterr().out == "done\n"
