"""The one exit-code rule over every command: an option mistake exits 2 with click's usage message
before any work, a library error exits 1 with one ``error:`` line, and neither leaves a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hm_annotate.cli import COMMANDS, cli, main
from hm_annotate.cli.options import DATASET_FORMAT_HELP, AliasOption
from tests.datasets.fixtures import make_finediving
from tests.mask_stores import ellipses, layer, write_store

VID = "E/1"
TOGETHER = "--dataset-format and --data-root go together"
# "S": the store, "D": a dataset folder, "O": a path nothing may be written to
USAGE = [
    (["export-coco", "S", "--out", "O", "--dataset", "finediving"], TOGETHER),
    (["export-coco", "S", "--out", "O", "--dataset-format", "finediving"], "go together"),
    (["export-ytvis", "S", "--out", "O", "--data-root", "D"], "go together"),
    (["import-coco", "S", "--store", "S", "--dataset", "finediving"], "go together"),
    (["import-ytvis", "S", "--store", "S", "--data-root", "D"], "go together"),
    (["stats", "S", "--dataset-format", "finediving"], "go together"),
    (["render", "S", "--video", VID, "--out", "O", "--data-root", "D"], "go together"),
    (["render", "S", "--video", VID, "--out", "O"], "give either --frames-root or --dataset-format with"),
    (["export-cvat", "S", "--video", VID, "--out", "O"], "give --frames-root, or --dataset-format and"),
    (["list-videos", "--data-root", "D"], "Missing option '--dataset-format'"),
    (["list-videos", "--dataset-format", "finediving", "--data-root", "O"], "'--data-root'"),
    (["pseudo-label", "--data-root", "D", "--out", "O", "--shard", "2/2"], "'--shard': shard '2/2'"),
    (["pseudo-label", "--data-root", "D", "--out", "O", "--shard", "x"], "is not K/N"),
    (["pseudo-label", "--data-root", "D", "--out", "O", "--resume", "--overwrite"], "exclude each other"),
    (["pseudo-label", "--data-root", "D", "--out", "O", "--overwrite", "--resume"], "exclude each other"),
    (["render", "S", "--video", VID, "--out", "O", "--frames-root", "D", "--fps", "0"], "'--fps'"),
    (["stats", "S", "--layer", "final"], "'--layer': 'final' is not one of"),
    (["stats", "S", "--by", "judge"], "'--by': cannot group by 'judge'"),
    (["review", "S", "--layer", "gt"], "'--layer'"),
    (["review", "S", "--top", "0"], "'--top': 0 is not in the range x>=1"),
    (["export-boxes", "S", "--out", "O.txt"], "'--out': O.txt: write a .csv or a .json file"),
    (["export-boxes", "S", "--out", "O", "--smooth", "0"], "'--smooth'"),
    (["export-boxes", "S", "--out", "O", "--pad", "x"], "'--pad': padding must be pixels"),
    (["export-coco", "S", "--out", "O", "--file-name-pattern", "{clip}.jpg"], "unknown field(s) ['clip']"),
    (["import-coco", "S", "--store", "S", "--file-name-pattern", "{frame}{frame}"], "'--file-name-pattern'"),
    (["export-masks", "S", "--format", "finediving-hm", "--out", "O", "--frames-root", "D"],
     "--frames-root goes with --format davis"),
    (["export-cvat", "S", "--video", VID, "--video", "F/2", "--out", "O", "--frames-root", "D",
      "--images-out", "O.zip"], "--images-out goes with one --video"),
    (["evaluate", "S"], "Missing option '--reference'"),
    (["merge", "O"], "Missing argument 'PARTS...'"),
    (["weights", "download", "vit_x"], "'vit_x' is not one of"),
    (["synth", "O", "--videos", "0", "--seed", "1"], "'--videos'"),
]  # fmt: skip
LIBRARY = [
    (["stats", "O"], "no such store"),
    (["review", "S", "--videos", "Z/9"], "no video 'Z/9' in the store"),
    (["export-boxes", "S", "--out", "O.csv", "--layer", "corrected"], "no video has a 'corrected' layer"),
    (["export-coco", "S", "--out", "O", "--layer", "corrected", "--videos", VID], "has no 'corrected' masks"),
    (["list-videos", "--dataset-format", "nope", "--data-root", "D"], "unknown dataset format 'nope'"),
    (["render", "S", "--video", VID, "--out", "O", "--dataset-format", "finediving", "--data-root", "D"],
     "annotation file not found"),
]  # fmt: skip


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("exit_codes")
    write_store(root / "s.h5", {VID: {"pseudo": layer(range(4), ellipses(4))}})
    (root / "data").mkdir()
    return {"S": str(root / "s.h5"), "D": str(root / "data"), "O": str(root / "out")}


def _place(text: str, places: dict[str, str]) -> str:
    """"S", "D", "O" and "O.<ext>" as paths of the fixture; other words as they are."""
    return places["O"] + text[1:] if text.startswith("O.") else places.get(text, text)


def _run(args: list[str], places: dict[str, str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main([_place(a, places) for a in args])
    return exited.value.code, capsys.readouterr().err


def _ids(value: object) -> str:
    return " ".join(value) if isinstance(value, list) else ""


@pytest.mark.parametrize(("args", "message"), USAGE, ids=_ids)
def test_option_mistakes_exit_2_with_the_usage_message(args, message, places, capsys):
    code, err = _run(args, places, capsys)
    assert code == 2, err
    assert err.startswith(f"Usage: hm-annotate {args[0]}") and "Error: " in err
    assert message.replace("O.", places["O"] + ".") in err, err
    assert not list(Path(places["O"]).parent.glob("out*"))


@pytest.mark.parametrize(("args", "message"), LIBRARY, ids=_ids)
def test_library_errors_exit_1_with_one_line(args, message, places, capsys):
    code, err = _run(args, places, capsys)
    assert code == 1, err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not list(Path(places["O"]).parent.glob("out*"))


def _command(name: str):
    import click

    return cli.get_command(click.Context(cli), name)


def test_every_command_reading_a_dataset_has_the_same_option_group():
    readers = []
    for name in COMMANDS:
        params = {p.name: p for p in _command(name).params}
        if "data_root" not in params:
            continue
        readers.append(name)
        fmt, root = params["dataset_format"], params["data_root"]
        assert isinstance(fmt, AliasOption) and fmt.opts[0] == "--dataset-format" and fmt.metavar == "NAME"
        assert fmt.help.startswith(DATASET_FORMAT_HELP) and root.opts == ["--data-root"]
        assert root.help == "Root folder of the dataset." and not root.type.file_okay and root.type.exists
    assert sorted(readers) == ["export-coco", "export-cvat", "export-ytvis", "import-coco", "import-ytvis",
                               "list-videos", "pseudo-label", "render", "stats"]  # fmt: skip


def test_the_old_dataset_spelling_works_but_is_not_shown(tmp_path, capsys):
    """``--dataset`` (the exports' and imports' old name) still names the adapter; --help shows only
    --dataset-format."""
    make_finediving(tmp_path / "FineDiving", frame_size=(48, 64))
    video = "FINADivingWorldCup2021_Men3m_final_r1/8"
    masks = layer(range(489, 492), ellipses(3, h=48, w=64))
    store = write_store(tmp_path / "s.h5", {video: {"pseudo": masks}})
    out = tmp_path / "c.json"
    main(["export-coco", str(store), "--out", str(out), "--dataset", "finediving",
          "--data-root", str(tmp_path / "FineDiving")])  # fmt: skip
    assert json.loads(out.read_text())["images"][0]["file_name"] == f"{video}/00489.jpg"
    for name in ("export-coco", "export-cvat", "export-ytvis", "import-coco", "import-ytvis"):
        main([name, "--help"])
        shown = capsys.readouterr().out
        assert "--dataset-format NAME" in shown and "--dataset " not in shown
