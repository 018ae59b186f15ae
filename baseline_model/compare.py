"""What masks are worth: GTM vs PM vs no masks under identical settings (the paper's Table 14).

Each seed trains three runs that differ only in their masks: ground-truth masks (GTM, e.g. the
``corrected`` layer), pseudo masks (PM, e.g. ``pseudo``) and none (no L_A). Pairs, augmentations,
batch order and initial weights depend only on the seed, so within a seed the three runs see
exactly the same data. Decoded frames are shared by all runs. Runs live in
``runs_dir/<condition>_seed<k>`` and an interrupted comparison resumes them.

The table reports the mean +- sample standard deviation over seeds of Spearman rho and relative
L2 (x100) at the best epoch (highest test rho, the reference protocol behind the paper's numbers)
and at the last epoch (no selection on the test split).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from baseline_model.config import Config
from baseline_model.data import FrameCache, MaskSource, build_splits, cache_fits, frame_shape
from baseline_model.train import RunResult, train
from hm_annotate.datasets.base import Video


@dataclass(frozen=True)
class Condition:
    """One row of the table: a name and the mask store layer it trains with (None: no masks)."""

    name: str
    store: str | None = None
    layer: str | None = None

    @property
    def slug(self) -> str:
        return self.name.lower().replace(" ", "-")


@dataclass
class Comparison:
    """Every run's result by (condition name, seed), and the markdown table summarising them."""

    conditions: list[Condition]
    seeds: list[int]
    runs: dict[tuple[str, int], RunResult] = field(default_factory=dict)
    seconds: float = 0.0
    note: str = ""

    def values(self, name: str, metric: str, which: str) -> list[float]:
        """``metric`` of condition ``name`` for every seed, at its ``best`` or ``last`` epoch (NaN: none)."""
        return [float(getattr(self.runs[(name, s)], which).get(metric, math.nan)) for s in self.seeds]

    def table(self) -> str:
        """A Table-14-style markdown table (mean +- std over seeds)."""
        lines = ["| Method | rho (best) | R-l2 x100 (best) | rho (last) | R-l2 x100 (last) |",
                 "|---|---|---|---|---|"]
        for c in self.conditions:
            cells = [_mean_std(self.values(c.name, m, w)) for w in ("best", "last") for m in ("rho", "rl2")]
            lines.append(f"| Uni-FineParser ({c.name}) | " + " | ".join(cells) + " |")
        return "\n".join(lines) + ("\n\n" + self.note if self.note else "") + "\n"

    def ordered(self, metric: str = "rho", which: str = "best") -> bool:
        """Whether the mean ``metric`` strictly keeps the conditions' order (higher rho is better)."""
        means = [float(np.mean(self.values(c.name, metric, which))) for c in self.conditions]
        return all(a > b for a, b in zip(means, means[1:]))

    def verdict(self, metric: str = "rho", which: str = "best") -> str:
        """Whether the conditions' order held, in words that never call a tie or one seed a result."""
        means = [float(np.mean(self.values(c.name, metric, which))) for c in self.conditions]
        if any(math.isnan(m) for m in means):
            return "undefined (a condition has no finite value)"
        if any(abs(a - b) < 1e-9 for a, b in zip(means, means[1:])):
            return "tied, no verdict (the runs did not separate the conditions)"
        if len(self.seeds) < 2:
            return "not judged (one seed is a smoke run)"
        return "held" if self.ordered(metric, which) else "did not hold"


def _mean_std(values: Sequence[float]) -> str:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "n/a"
    mean = float(np.mean(finite))
    if len(finite) == 1:
        return f"{mean:.4f}"
    return f"{mean:.4f} +- {float(np.std(finite, ddof=1)):.4f}"


def with_masks(cfg: Config, condition: Condition, seed: int) -> Config:
    """``cfg`` for one run: the condition's masks (or none) and the seed; nothing else changes."""
    data = dataclasses.replace(cfg.data, use_masks=condition.store is not None, mask_store=condition.store,
                               mask_layer=condition.layer or cfg.data.mask_layer)
    return Config(model=cfg.model, data=data, train=dataclasses.replace(cfg.train, seed=seed))


def default_conditions(gtm: str, pm: str, gtm_layer: str = "corrected",
                       pm_layer: str = "pseudo") -> list[Condition]:
    """GTM, PM and no masks, in the order the table expects them to rank."""
    return [Condition("GTM", gtm, gtm_layer), Condition("PM", pm, pm_layer), Condition("no masks")]


# What forked worker processes inherit instead of receiving it pickled: the config, the videos, the
# decoded frames and the loaded masks (hundreds of MB that copy-on-write shares for free).
_SHARED: dict[str, Any] = {}


def _run(seed: int, index: int, threads: int | None) -> RunResult:
    """Train one (seed, condition) run from the shared state, resuming it when it has a last.pt."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    s = _SHARED
    condition = s["conditions"][index]
    run_cfg = with_masks(s["cfg"], condition, seed)
    splits = build_splits(s["train"], s["test"], run_cfg.data, seed=seed, masks=s["masks"][index],
                          frames=s["frames"], progress=s["progress"])
    run = s["runs_dir"] / f"{condition.slug}_seed{seed}"
    return train(run_cfg, splits, run, resume=(run / "last.pt").exists(), device=s["device"],
                 progress=s["progress"])


def compare(cfg: Config, train_videos: list[Video], test_videos: list[Video], conditions: Sequence[Condition],
            runs_dir: str | Path, *, seeds: int = 3, jobs: int = 1, allow_missing: bool = False,
            device: str | None = None, progress: bool = True) -> Comparison:
    """Train and evaluate every condition for ``seeds`` seeds (``cfg.train.seed``, +1, ...).

    ``jobs`` > 1 trains that many runs at once in forked processes of one torch thread each
    (on a few CPU cores that beats one run on all of them); frames and masks are decoded once,
    here, before the processes start. Results do not depend on ``jobs``.
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from tqdm import tqdm

    started = time.perf_counter()
    every = [*train_videos, *test_videos]
    shape = frame_shape(cfg.data)
    frames = FrameCache(shape, enabled=cache_fits(every, shape))
    frames.preload(every, progress=progress)
    masks = []
    for condition in conditions:
        source = (MaskSource(condition.store, condition.layer, allow_missing=allow_missing)
                  if condition.store else None)
        if source is not None:
            source.check(every)
            if frames.enabled:
                for video in tqdm(every, desc=f"load {condition.name} masks", unit="video", leave=False,
                                  disable=None if progress else True):
                    source.get(video, shape)
        masks.append(source)
    seed_list = [cfg.train.seed + k for k in range(seeds)]
    _SHARED.update(cfg=cfg, train=train_videos, test=test_videos, conditions=list(conditions), masks=masks,
                   frames=frames, runs_dir=Path(runs_dir), device=device, progress=progress and jobs == 1)
    tasks = [(seed, i) for seed in seed_list for i in range(len(conditions))]
    out = Comparison(conditions=list(conditions), seeds=seed_list)
    try:
        if jobs == 1:
            results = [_run(seed, i, None) for seed, i in tasks]
        else:
            with ProcessPoolExecutor(jobs, mp_context=get_context("fork")) as pool:
                futures = [pool.submit(_run, seed, i, 1) for seed, i in tasks]
                results = [f.result() for f in tqdm(futures, desc="runs", unit="run",
                                                     disable=None if progress else True)]
    finally:
        _SHARED.clear()
    for (seed, i), result in zip(tasks, results):
        out.runs[(conditions[i].name, seed)] = result
    out.seconds = time.perf_counter() - started
    out.note = (f"{len(seed_list)} seed(s) ({', '.join(map(str, seed_list))}), {cfg.train.epochs} epochs, "
                f"{len(train_videos)} train / {len(test_videos)} test videos, "
                f"M = {cfg.data.num_exemplars_vote} exemplars; mean +- sample std over seeds. "
                f"best: epoch with the highest test rho (reference protocol); last: final epoch. "
                f"Runs in {runs_dir}; {out.seconds / 60:.1f} min with {jobs} job(s).")
    return out


def summary(comparison: Comparison) -> dict[str, Any]:
    """The comparison as plain data (per run: best and last metrics), e.g. for JSON."""
    return {"seeds": comparison.seeds, "seconds": round(comparison.seconds, 1),
            "conditions": [dataclasses.asdict(c) for c in comparison.conditions],
            "runs": [{"condition": name, "seed": seed, "best": r.best, "last": r.last, "dir": str(r.out_dir)}
                     for (name, seed), r in comparison.runs.items()]}
