"""Run the CLI on the hostile inputs of issue 14 and count what happens.

    python tools/fuzz_cli.py --work /tmp/fuzz [--timeout 30]

Each attempt runs one ``hm-annotate`` command in a subprocess on one damaged or hostile input
(stores, COCO files, annotation pickles, PNGs, symlinked mask trees) and is classed as: a clear
error (non-zero exit, no traceback, one ``error:`` line, or ``validate`` findings, or a
``DatasetWarning`` line naming the skipped video), ran (exit 0), traceback, crash (killed by a
signal), hang (past the time limit). Every attempt also checks that nothing appeared or changed
outside the folder it was told to write to and that a failed command left no new file.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hm_annotate.io.coco import export_coco, write_coco  # noqa: E402
from tests.datasets.fixtures import FineDivingClip, make_finediving  # noqa: E402
from tests.hostile import OVERFLOW_COUNTS, store_with_counts, store_with_id  # noqa: E402
from tests.masks import make_store  # noqa: E402

VID = "ev/1"


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for p in root.rglob("*"):
        st = p.lstat()
        out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


class Fuzz:
    def __init__(self, work: Path, timeout: float) -> None:
        self.work, self.timeout = work, timeout
        self.results: Counter[str] = Counter()
        self.left_behind = 0
        self.outside = 0
        self.n = 0

    def case(self) -> Path:
        self.n += 1
        folder = self.work / f"case{self.n:03d}"
        folder.mkdir(parents=True)
        return folder

    def attempt(self, label: str, folder: Path, *args: str, out: Path | None = None) -> None:
        before = snapshot(folder)
        try:
            r = subprocess.run(
                [sys.executable, "-c", "from hm_annotate.cli import main; main()", *args],
                capture_output=True, text=True, timeout=self.timeout, cwd=folder,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
        except subprocess.TimeoutExpired:
            r = None
            kind, detail = "hang", f"> {self.timeout:.0f} s"
        else:
            err = r.stderr
            if r.returncode < 0:
                kind, detail = "crash", f"signal {-r.returncode}"
            elif "Traceback" in err:
                kind, detail = "traceback", err.strip().splitlines()[-1]
            elif r.returncode == 0:
                warned = [ln for ln in err.splitlines() if "warning" in ln.lower()]
                kind, detail = ("clear", warned[0]) if warned else ("ran", r.stdout.strip()[-100:])
            else:
                lines = [ln for ln in err.splitlines() if ln.startswith(("error:", "Error:"))]
                findings = args[0] == "validate" and r.stdout.strip()
                clear = len(lines) == 1 or findings
                kind = "clear" if clear else "unclear"
                detail = (lines or r.stdout.strip().splitlines() or ["?"])[0]
        after = snapshot(folder)
        changed = sorted(k for k in after if after[k] != before.get(k))
        changed += sorted(k for k in before if k not in after)
        changed = [k for k in changed if not k.endswith(".lock")]  # a writer's lock file is by design
        allowed = out.relative_to(folder).as_posix() if out is not None else None
        escaped = [k for k in changed if allowed is None or not (k == allowed or k.startswith(allowed + "/"))]
        # a command that succeeded (exit 0, perhaps warning about skipped videos) may write
        left = bool(changed) and (r is None or r.returncode != 0)
        self.outside += bool(escaped)
        self.left_behind += left
        self.results[kind] += 1
        flag = (" OUTSIDE " + ",".join(escaped[:3]) if escaped else "") + (" LEFT" if left else "")
        print(f"{self.n:3d} {kind:9s} {label}: {detail[:150]}{flag}", flush=True)

    # ------------------------------------------------------------------ stores

    def store_cases(self) -> None:
        readers = {
            "info": [], "validate": [], "stats": ["--temporal"], "review": [],
            "export-coco": ["--out", "c.json"],
            "export-masks fd": ["--format", "finediving-hm", "--out", "out"],
            "export-masks davis": ["--format", "davis", "--out", "out"],
            "export-boxes": ["--out", "boxes.csv"],
            "evaluate": ["--reference", "m.h5", "--ref-layer", "pseudo"],
        }
        damaged = {
            "id ../../x/0": lambda p: store_with_id(p, "../../x/0"),
            "id /abs": lambda p: store_with_id(p, str(p.parent / "abs/0")),
            "id a/../../b": lambda p: store_with_id(p, "a/../../b"),
            "rle past 2^64": lambda p: store_with_counts(p, OVERFLOW_COUNTS.encode()),
            "rle one byte off": lambda p: store_with_counts(p, b"PPb30001"),
            "rle bad char": lambda p: store_with_counts(p, b"PP\x00"),
            "counts int64": lambda p: _retype(p, np.int64),
            "counts vlen": lambda p: _retype(p, None),
            "offsets huge": lambda p: _poke(p, "counts_offsets", 1, 10**12),
            "no /videos": lambda p: _drop(p, "videos"),
            "schema_version str": lambda p: _attr(p, "/", "schema_version", "one"),
            "schema_version 99": lambda p: _attr(p, "/", "schema_version", 99),
            "metadata bad JSON": lambda p: _attr(p, f"/videos/{quote(VID, safe='')}", "metadata", "{x"),
            "missing frames": lambda p: _drop(p, f"videos/{quote(VID, safe='')}/pseudo/frames"),
            "soft-link loop": lambda p: _loop(p),
        }
        for name, make in damaged.items():
            for command, extra in readers.items():
                folder = self.case()
                store = folder / "m.h5"
                if not name.startswith(("id ", "rle ")):
                    make_store(store, {VID: 3})
                make(store)
                cmd = command.split()[0]
                out = folder / extra[extra.index("--out") + 1] if "--out" in extra else None
                self.attempt(f"{cmd} on store with {name}", folder, cmd, str(store), *extra, out=out)
        for command in ("info", "validate", "stats", "export-coco", "merge"):
            folder = self.case()
            os.mkfifo(folder / "m.h5")
            extra = {"export-coco": ["--out", "c.json"]}.get(command, [])
            args = ["new.h5", "m.h5"] if command == "merge" else ["m.h5", *extra]
            self.attempt(f"{command} on a FIFO", folder, command, *args)

    # ------------------------------------------------------------------ COCO

    def coco_cases(self) -> None:
        def bad(seg=None, attrs=None, raw=None, info=None, many=False):
            def edit(data):
                ann = data["annotations"][0]
                if seg is not None:
                    ann["segmentation"] = seg
                if attrs is not None:
                    ann["attributes"] = attrs
                if info is not None:
                    data["info"] = info
                if many:
                    data["annotations"] = [dict(ann, id=k, attributes={}) for k in range(2**15)]
                return raw if raw is not None else json.dumps(data)
            return edit

        cases = {
            "polygon 4e8": bad(seg=[[0.5, 0.5, 4e8 + 0.5, 0.5, 0.5, 4e8 + 0.5]]),
            "polygon 1e12": bad(seg=[[0.5, 0.5, 1e12, 0.5, 0.5, 1e12]]),
            "polygon 1e308": bad(seg=[[0.5, 0.5, 1e308, 0.5, 0.5, 1e308]]),
            "polygon 5e7": bad(seg=[[0.5, 0.5, 5e7, 0.5, 0.5, 5e7]]),
            "polygon NaN": bad(raw=None, seg=[[0.5, 0.5, float("nan"), 0.5, 0.5, 3]]),
            "rle past 2^64": bad(seg={"size": [48, 64], "counts": OVERFLOW_COUNTS}),
            "rle counts 2^32": bad(seg={"size": [48, 64], "counts": [2**32, 3072]}),
            "rle counts 10^400": bad(seg={"size": [48, 64], "counts": [10**400]}),
            "rle size 2^40": bad(seg={"size": [2**40, 2**40], "counts": "0"}),
            "object_id 2^32": bad(attrs={"object_id": 2**32}),
            "object_id 10^400": bad(attrs={"object_id": 10**400}),
            "JSON 50k deep": bad(raw="[" * 50_000 + "]" * 50_000),
            "int 5000 digits": bad(raw='{"images": [], "x": ' + "9" * 5000 + "}"),
            "32768 objects": bad(many=True),
            "contributor 50 MB": bad(info={"contributor": "x" * (50 << 20)}),
        }
        for name, edit in cases.items():
            folder = self.case()
            store = folder / "m.h5"
            make_store(store, {VID: 3})
            path = write_coco(export_coco(store), folder / "c.json")
            path.write_text(edit(json.loads(path.read_text())))
            self.attempt(f"import-coco {name}", folder, "import-coco", "c.json", "--store", "m.h5")

    # ------------------------------------------------------------------ annotation pickles

    def pickle_cases(self) -> None:
        def nested(depth):
            v = ["x"]
            for _ in range(depth):
                v = [v, v]
            return v

        fields = {
            "action_type nested depth 40": ("action_type", nested(40)),
            "end_frame 10**9": ("end_frame", 10**9),
            "start_frame list": ("start_frame", [1, 2]),
            "start_frame 10**400": ("start_frame", 10**400),
            "start_frame None": ("start_frame", None),
            "start_frame str": ("start_frame", "abc"),
            "start_frame -5": ("start_frame", -5),
            "end_frame < start": ("end_frame", 1),
            "dive_score str": ("dive_score", "high"),
            "dive_score NaN": ("dive_score", float("nan")),
            "dive_score dict": ("dive_score", {"a": 1}),
            "difficulty list": ("difficulty", [3.0]),
            "difficulty 10**400": ("difficulty", 10**400),
            "judge_scores nested": ("judge_scores", nested(40)),
            "judge_scores dict": ("judge_scores", {"a": 1}),
            "judge_scores str": ("judge_scores", "777"),
            "action_type 1 MB": ("action_type", "x" * (1 << 20)),
        }
        for name, (field, value) in fields.items():
            folder = self.case()
            make_finediving(folder / "data")
            path = folder / "data" / "Annotations" / "FineDiving_coarse_annotation.pkl"
            coarse = pickle.loads(path.read_bytes())
            coarse[("FINADivingWorldCup2021_Men3m_final_r1", 8)][field] = value
            path.write_bytes(pickle.dumps(coarse))
            self.attempt(f"list-videos {name}", folder, "list-videos", "--dataset-format", "finediving",
                         "--data-root", "data")
        for name, entry in {"split key nested": (nested(40), 8), "split key huge": ("ev", 10**5000),
                            "split entry int": 7}.items():
            folder = self.case()
            make_finediving(folder / "data")
            (folder / "data" / "Annotations" / "train_split.pkl").write_bytes(pickle.dumps([entry]))
            self.attempt(f"list-videos {name}", folder, "list-videos", "--dataset-format", "finediving",
                         "--data-root", "data")
        folder = self.case()
        make_finediving(folder / "data", [FineDivingClip("../FINADiving_MTL_256s/Ev", 1, "train", 10, 14)])
        for cmd in (["list-videos"], ["pseudo-label", "--out", "m.h5", "--segmenter", "grabcut"]):
            self.attempt(f"{cmd[0]} on event ../FINADiving_MTL_256s/Ev", folder, cmd[0], "--dataset-format",
                         "finediving", "--data-root", "data", *cmd[1:], out=folder / "m.h5")

    # ------------------------------------------------------------------ mask trees

    def tree_cases(self) -> None:
        import cv2

        from tests.cli.test_hostile_inputs import _png

        def tree(root: Path) -> None:
            (root / "ev" / "1").mkdir(parents=True)
            for n in (1, 2):
                m = np.zeros((8, 8), np.uint8)
                m[2:5, 2:5] = 255
                cv2.imwrite(str(root / "ev" / "1" / f"{n:05d}.png"), m)

        for name, size in {"PNG bomb 60000^2": (60000, 60000), "PNG bomb 9000^2": (9000, 9000)}.items():
            folder = self.case()
            (folder / "masks" / "ev" / "1").mkdir(parents=True)
            (folder / "masks" / "ev" / "1" / "00001.png").write_bytes(_png(*size))
            self.attempt(f"import-masks davis {name}", folder, "import-masks", "masks", "--format", "davis",
                         "--out", "new.h5")
        for name in ("folder link outside", "frame link outside", "dangling frame link"):
            folder = self.case()
            tree(folder / "masks")
            tree(folder / "elsewhere")
            if name == "folder link outside":
                (folder / "masks" / "ev" / "2").symlink_to(folder / "elsewhere" / "ev" / "1")
            elif name == "frame link outside":
                (folder / "masks/ev/1/00003.png").symlink_to(folder / "elsewhere/ev/1/00001.png")
            else:
                (folder / "masks/ev/1/00003.png").symlink_to(folder / "nowhere.png")
            self.attempt(f"import-masks {name}", folder, "import-masks", "masks", "--format", "finediving-hm",
                         "--out", "new.h5")


def _retype(path: Path, dtype) -> None:
    with h5py.File(path, "r+") as f:
        g = f[f"videos/{quote(VID, safe='')}/pseudo"]
        blob = g["counts"][()]
        del g["counts"]
        if dtype is None:
            g.create_dataset("counts", data=[blob.tobytes()], dtype=h5py.string_dtype())
        else:
            g.create_dataset("counts", data=blob.astype(dtype))


def _poke(path: Path, name: str, i: int, value: int) -> None:
    with h5py.File(path, "r+") as f:
        f[f"videos/{quote(VID, safe='')}/pseudo/{name}"][i] = value


def _drop(path: Path, name: str) -> None:
    with h5py.File(path, "r+") as f:
        del f[name]


def _attr(path: Path, obj: str, name: str, value) -> None:
    with h5py.File(path, "r+") as f:
        f[obj].attrs[name] = value


def _loop(path: Path) -> None:
    with h5py.File(path, "r+") as f:
        f["videos"]["loop"] = h5py.SoftLink("/videos/loop")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="Folder to work in (emptied first).")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--only", choices=["stores", "coco", "pickles", "trees"], action="append")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    fuzz = Fuzz(args.work, args.timeout)
    for part in args.only or ["stores", "coco", "pickles", "trees"]:
        getattr(fuzz, f"{part.rstrip('s')}_cases")()
    total = sum(fuzz.results.values())
    print(f"attempts {total}; " + ", ".join(f"{k} {v}" for k, v in sorted(fuzz.results.items()))
          + f"; wrote outside their folder {fuzz.outside}; failed and left files {fuzz.left_behind}")


if __name__ == "__main__":
    main()
