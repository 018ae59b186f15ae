"""Generate a synthetic dataset in the exact FineDiving on-disk layout, with exact masks.

``OUT/FINADiving_MTL_256s/<event>/<instance>/<NNNNN>.jpg`` frames, ``OUT/gt_masks.h5`` (the
mask store, layer ``corrected``: the exact athlete pixels), optionally
``OUT/diving_mask_annotation_gray/...`` (FineDiving-HM gray JPG masks), and last the six
``OUT/Annotations/*.pkl``: a folder without them is unfinished. A run picks up where a killed
one stopped (videos already in the store are kept), and refuses to mix parameters in one OUT.
Everything is a function of the seed: the worker count changes the speed, not the output.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

from hm_annotate import __version__
from hm_annotate.errors import HMError
from hm_annotate.reporting import Reporter
from hm_annotate.synth import annotations
from hm_annotate.synth.plan import VideoPlan, plan_dataset
from hm_annotate.synth.render import Rendered, frame_size, render_video

FRAMES_DIR = "FINADiving_MTL_256s"
MASKS_DIR = "diving_mask_annotation_gray"
ANNOTATIONS_DIR = "Annotations"
STORE_FILE = "gt_masks.h5"
PARAMS_FILE = ".synth.json"
GENERATOR_VERSION = 1


class SynthError(HMError):
    """An output folder or parameters the generator cannot work with."""


def _params(videos: int, seed: int, sync_fraction: float, height: int, frames: int, hm_jpg: bool) -> dict:
    return {
        "generator_version": GENERATOR_VERSION,
        "videos": videos,
        "seed": seed,
        "sync_fraction": sync_fraction,
        "height": height,
        "frames": frames,
        "hm_jpg": hm_jpg,
    }


def _claim(out: Path, params: dict) -> None:
    """Record the parameters in OUT, or check that an earlier run used the same ones."""
    path = out / PARAMS_FILE
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SynthError(
                f"{path}: unreadable ({exc}); remove it or choose another output folder"
            ) from exc
        if old != params:
            diff = ", ".join(
                f"{k}={old.get(k)!r} (now {params[k]!r})" for k in params if old.get(k) != params[k]
            )
            raise SynthError(
                f"{out} holds a synthetic dataset made with {diff}; choose another output folder"
            )
        return
    if out.exists() and any(out.iterdir()):
        raise SynthError(f"{out} is not empty and holds no synthetic dataset; choose an empty or new folder")
    out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(params, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _provenance(params: dict) -> dict[str, Any]:
    return {
        "tool": "hm-annotate synth",
        "tool_version": __version__,
        "source": "synthetic ground truth: the rendered athlete pixels",
        "parameters": params,
    }


def _frame_count(folder: Path) -> int:
    return sum(1 for _ in folder.glob("*.jpg")) if folder.is_dir() else 0


def _done(out: Path, plan: VideoPlan, stored: set[str], hm_jpg: bool) -> bool:
    """A video is done when the store has it and its frame (and mask) files are all there."""
    if plan.video_id not in stored:
        return False
    if _frame_count(out / FRAMES_DIR / plan.video_id) != plan.n_frames:
        return False
    return not hm_jpg or _frame_count(out / MASKS_DIR / plan.video_id) == plan.n_frames


def _job(args: tuple[VideoPlan, str, str | None, int]) -> Rendered:
    plan, frames_root, masks_root, height = args
    masks_dir = Path(masks_root) / plan.video_id if masks_root is not None else None
    return render_video(plan, Path(frames_root) / plan.video_id, masks_dir, height)


def _quiet_worker() -> None:
    """One OpenCV thread per worker process: the processes are the parallelism."""
    import cv2

    cv2.setNumThreads(1)


def generate(
    out: str | os.PathLike,
    videos: int,
    *,
    seed: int,
    sync_fraction: float = 0.2,
    height: int = 256,
    frames: int = 104,
    hm_jpg: bool = False,
    workers: int = 1,
    reporter: Reporter | None = None,
) -> dict[str, Any]:
    """Make (or finish) a synthetic FineDiving dataset in ``out``; returns a summary.

    ``frames`` is the typical clip length (each clip varies by about 7 %); ``height`` the frame
    height (width 16:9). Synchronised events get two athletes, both in one video's masks.
    ``workers`` > 1 renders in spawned processes, so a calling script needs the usual
    ``if __name__ == "__main__":`` guard.
    """
    from hm_annotate.store import LayerData, MaskStore

    if height < 64:
        raise SynthError(f"frame height must be at least 64 pixels, got {height}")
    if workers < 1:
        raise SynthError(f"workers must be at least 1, got {workers}")
    started = time.perf_counter()
    plans = plan_dataset(videos, seed, sync_fraction, frames)
    out = Path(out)
    params = _params(videos, seed, sync_fraction, height, frames, hm_jpg)
    _claim(out, params)
    frames_root, masks_root = out / FRAMES_DIR, (out / MASKS_DIR if hm_jpg else None)
    by_id = {p.video_id: p for p in plans}
    rendered = 0
    with MaskStore.open(out / STORE_FILE, mode="a") as store:
        stored = {v for v in store.videos() if store.has(v, "corrected")}
        todo = [p for p in plans if not _done(out, p, stored, hm_jpg)]
        jobs = [(p, str(frames_root), None if masks_root is None else str(masks_root), height) for p in todo]
        bar = (reporter or Reporter()).bar(total=len(jobs), desc="synth", unit="video")
        pool = None
        if workers > 1 and len(jobs) > 1:
            pool = multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)), _quiet_worker)
        try:
            results = pool.imap(_job, jobs) if pool is not None else map(_job, jobs)
            for result in results:
                plan = by_id[result.video_id]
                data = LayerData(
                    frames=result.frames,
                    masks=result.masks,
                    height=result.height,
                    width=result.width,
                    object_ids=result.object_ids,
                    provenance=[_provenance(params)],
                )
                store.put(plan.video_id, "corrected", data, metadata=plan.metadata())
                rendered += 1
                bar.update(1)
        finally:
            bar.close()
            if pool is not None:
                pool.terminate()
                pool.join()
    annotations.write(out / ANNOTATIONS_DIR, plans)
    h, w = frame_size(height)
    return {
        "out": str(out),
        "videos": len(plans),
        "rendered": rendered,
        "frames": int(sum(p.n_frames for p in plans)),
        "sync_videos": sum(p.sync for p in plans),
        "train": sum(p.split == "train" for p in plans),
        "test": sum(p.split == "test" for p in plans),
        "height": h,
        "width": w,
        "seconds": round(time.perf_counter() - started, 2),
    }
