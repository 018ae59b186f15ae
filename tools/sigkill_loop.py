"""SIGKILL ``merge`` into a new OUT and ``import-masks`` into a new store at random moments, and
check after every kill that OUT is absent or complete and that running the command again succeeds.

    python tools/sigkill_loop.py --kills 20 --work /tmp/kills

Prints one line per trial and a summary per command: kills, OUT absent / complete / damaged after
the kill, temp files present after the kill, reruns that succeeded, files left behind after the
rerun (anything beside the parts and OUT other than OUT's lock file).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hm_annotate import rle  # noqa: E402
from hm_annotate.io import finediving_hm  # noqa: E402
from hm_annotate.store import LayerData, MaskStore, validate  # noqa: E402


def ellipses(n: int, seed: int, h: int = 96, w: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    cx = rng.uniform(30, 90) + np.arange(n)[:, None, None]
    return (((xx - cx) / 12) ** 2 + ((yy - 48) / 30) ** 2 <= 1).astype(np.uint8)


def make_part(path: Path, videos: range, frames: int) -> None:
    with MaskStore.open(path, "a") as st, st.transaction():
        for k in videos:
            masks = [[r] for r in rle.encode_batch(ellipses(frames, k))]
            data = LayerData(np.arange(100, 100 + frames), masks, 96, 128)
            st.put(f"ev{k // 10}/{k % 10}", "pseudo", data, metadata={"action_type": "107b", "k": k})


def command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from hm_annotate.cli import main; main()", *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def complete(out: Path, expected: dict[str, int]) -> bool:
    if validate(out):
        return False
    with MaskStore.open(out) as st:
        return {v: len(st.read(v, st.layers(v)[0])) for v in st.videos()} == expected


def extra_files(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def trial_loop(
    name: str, folder: Path, out: Path, argv: list[str], rerun: list[str], expected: dict[str, int],
    keep: set[str], kills: int, seed: int,
) -> dict[str, int]:
    rng = random.Random(seed)
    t0 = time.monotonic()
    subprocess.run(argv, env=env(), check=True, capture_output=True)
    duration = time.monotonic() - t0
    assert complete(out, expected), f"{name}: a clean run did not give a complete store"
    out.unlink()
    for extra in folder.glob(out.name + ".*"):  # the lock file of the clean run
        extra.unlink() if extra.is_file() else shutil.rmtree(extra)
    counts = dict(kills=0, finished_first=0, absent=0, complete=0, damaged=0, temps_after_kill=0,
                  rerun_ok=0, left_behind=0)
    while counts["kills"] < kills:
        proc = subprocess.Popen(argv, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.02, duration))
        if proc.poll() is not None:
            counts["finished_first"] += 1
        else:
            proc.send_signal(signal.SIGKILL)
            counts["kills"] += 1
        proc.wait()
        keep_all = keep | {out.name, out.name + ".lock"}
        temps = [n for n in extra_files(folder, keep_all) if n.startswith(".")]
        counts["temps_after_kill"] += bool(temps)
        if not out.exists():
            state = "absent"
            again = subprocess.run(argv, env=env(), capture_output=True, text=True)
        elif complete(out, expected):
            state = "complete"
            again = subprocess.run(rerun, env=env(), capture_output=True, text=True)
        else:
            state = "damaged"
            again = None
        counts[state] += 1
        ok = again is not None and again.returncode == 0 and complete(out, expected)
        counts["rerun_ok"] += ok
        left = extra_files(folder, keep_all)
        counts["left_behind"] += bool(left)
        trial = counts["kills"] + counts["finished_first"]
        print(f"{name} trial {trial:3d}: after kill {state:8s} temps {temps or '-'}; "
              f"rerun {'ok' if ok else 'FAILED'}; left behind {left or '-'}", flush=True)
        if out.exists():
            out.unlink()
        for extra in folder.glob(out.name + ".*"):
            extra.unlink() if extra.is_file() else shutil.rmtree(extra)
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    print(f"{name}: clean run {duration:.2f} s; {summary}", flush=True)
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--work", type=Path, required=True, help="Empty folder to work in (removed first).")
    ap.add_argument("--videos", type=int, default=40)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    half = args.videos // 2
    parts = [args.work / "a.h5", args.work / "b.h5"]
    make_part(parts[0], range(half), args.frames)
    make_part(parts[1], range(half, args.videos), args.frames)
    expected = {f"ev{k // 10}/{k % 10}": args.frames for k in range(args.videos)}
    out = args.work / "out.h5"
    merge = command("merge", str(out), *map(str, parts))
    results = {"merge": trial_loop("merge", args.work, out, merge, [*merge, "--force"], expected,
                                   {"a.h5", "b.h5", "a.h5.lock", "b.h5.lock", "masks", "imported"},
                                   args.kills, args.seed)}

    with MaskStore.open(parts[0]) as st:
        finediving_hm.write_tree(st, args.work / "masks", layer="pseudo", ext="png")
    imported = args.work / "imported"
    imported.mkdir()
    out = imported / "new.h5"
    argv = command("import-masks", str(args.work / "masks"), "--format", "finediving-hm",
                   "--out", str(out), "--layer", "pseudo")
    expected = {f"ev{k // 10}/{k % 10}": args.frames for k in range(half)}
    results["import-masks"] = trial_loop("import-masks", imported, out, argv, argv, expected, set(),
                                         args.kills, args.seed + 1)
    bad = sum(r["damaged"] + (r["kills"] + r["finished_first"] - r["rerun_ok"]) + r["left_behind"]
              for r in results.values())
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
