"""The six FineDiving annotation pickles, with the real files' keys, value layouts and types.

Keys are ``(event: str, instance: int)`` tuples. ``frames_labels`` and ``steps_transit_frames``
are int64 numpy arrays (labels per frame from start to end frame; transitions relative to the
start frame, the last frame of the preceding step). Scores and difficulties are Python floats,
judge awards a list of floats, action types lowercase dive numbers.
"""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hm_annotate.synth.dives import SUB_ACTION_TYPES
from hm_annotate.synth.plan import VideoPlan

TRAIN, TEST = "train_split.pkl", "test_split.pkl"
COARSE, FINE = "FineDiving_coarse_annotation.pkl", "FineDiving_fine-grained_annotation.pkl"
AQA, SUB_ACTIONS = "fine-grained_annotation_aqa.pkl", "Sub_action_Types_Table.pkl"
FILES = (TRAIN, TEST, COARSE, FINE, AQA, SUB_ACTIONS)
PROTOCOL = 4


def tables(plans: Sequence[VideoPlan]) -> dict[str, Any]:
    """File name -> the object pickled into it."""
    coarse, fine, aqa = {}, {}, {}
    for p in plans:
        labels, transits = p.frames_labels(), p.steps_transit_frames()
        coarse[p.key] = {
            "action_type": p.code,
            "start_frame": int(p.start_frame),
            "end_frame": int(p.end_frame),
            "dive_score": float(p.dive_score),
            "difficulty": float(p.difficulty),
            "judge_scores": [float(a) for a in p.judge_scores],
        }
        fine[p.key] = {
            "action_type": p.code,
            "dive_score": float(p.dive_score),
            "difficulty": float(p.difficulty),
            "frames_labels": labels,
            "steps_transit_frames": transits,
            "sub-action_types": dict(SUB_ACTION_TYPES),
        }
        aqa[p.key] = [p.code, float(p.dive_score), float(p.difficulty), transits.copy(), labels.copy()]
    return {
        TRAIN: [p.key for p in plans if p.split == "train"],
        TEST: [p.key for p in plans if p.split == "test"],
        COARSE: coarse,
        FINE: fine,
        AQA: aqa,
        SUB_ACTIONS: dict(SUB_ACTION_TYPES),
    }


def write(directory: Path, plans: Sequence[VideoPlan]) -> None:
    """Write all six pickles into ``directory`` at once: they are built in a sibling folder and
    renamed into place, so the folder either holds the complete set or does not exist."""
    directory = Path(directory)
    for stale in directory.parent.glob(f".{directory.name}.*.tmp"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    tmp = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
    tmp.mkdir(parents=True)
    for name, obj in tables(plans).items():
        with open(tmp / name, "wb") as f:
            pickle.dump(obj, f, protocol=PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)


def complete(directory: Path) -> bool:
    """Whether a folder holds all six annotation files."""
    return all((Path(directory) / name).is_file() for name in FILES)
