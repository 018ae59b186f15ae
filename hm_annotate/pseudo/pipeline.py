"""The pseudo-label loop: for every video, prompts -> tracker -> segmenter -> one store commit.

Per frame, ``targets`` places each athlete's box (a prompt, the tracker, a detection when the
target was lost, or the last good box held in place) and keeps or refuses the segmenter's masks;
the trackers get the accepted masks back to re-anchor. Frames are decoded (``frames``) and pushed
through the segmenter's image encoder ``batch_size`` at a time, ``prefetch`` batches ahead of the
loop on a worker thread, their motion cues on ``MOTION_THREADS`` more (the detector scan's too),
and RLE encoding and store commits run behind it on another (``prefetch``); none changes a mask.

Labelling starts at the video's first prompted frame and runs to the end, then afresh from that
frame back to the first. Without prompts, a detector scan (``anchors``) picks the start: the frame
where the athletes, followed over the whole clip, stand out most; its boxes act as prompts.

A video is committed with one store ``put`` when all its frames are done, so a killed run loses
only the video in flight and ``resume`` skips what is committed. Every video starts from fresh
state and seeds derived from (seed, video id, frame), so a resumed or sharded run gives the same
masks as one uninterrupted run.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hm_annotate import rle
from hm_annotate.datasets.base import Video
from hm_annotate.errors import HMError
from hm_annotate.pseudo import anchors
from hm_annotate.pseudo.components import Components
from hm_annotate.pseudo.frames import VideoFailed, VideoFrames
from hm_annotate.pseudo.prefetch import Ahead, Behind
from hm_annotate.pseudo.quality import frame_flags
from hm_annotate.pseudo.targets import Targets, moving_prior
from hm_annotate.pseudo.timings import Timings
from hm_annotate.reporting import Reporter
from hm_annotate.store import LayerData, MaskStore

LAYER = "pseudo"
MOTION_THREADS = 2  # threads making motion cues ahead of the loop (aligning frames is most of it)


class PipelineError(HMError):
    """A run that cannot start as asked (e.g. masks already in the store without resume)."""


def video_seed(seed: int, video_id: str) -> int:
    """A 31-bit seed for one video that does not depend on which videos ran before."""
    digest = hashlib.sha256(f"{seed}:{video_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


class _VideoLabeller:
    """Labels one video; all state lives here, so every video starts afresh."""

    def __init__(self, video: Video, parts: Components, timings: Timings) -> None:
        self.video = video
        self.parts = parts
        self.timings = timings
        self.prompts = parts.prompts.for_video(video.id) if parts.prompts else {}
        ids = parts.prompts.object_ids(video.id) if parts.prompts else set()
        count = parts.config.objects or int(video.metadata.get("athletes") or 1)
        self.targets = Targets(
            ids=sorted(ids | set(range(1, count + 1))),
            loss=parts.config.loss,
            rules=parts.config.targets,
            new_tracker=parts.new_tracker,
            uses_appearance=parts.segmenter.uses_appearance,
            timings=timings,
        )
        self.seed = video_seed(parts.config.seed, video.id)
        offsets = (parts.detector.offsets if parts.detector else ()) + parts.segmenter.motion_offsets
        self._pool = (
            ThreadPoolExecutor(MOTION_THREADS, thread_name_prefix="hm-motion")
            if parts.config.prefetch > 0
            else None
        )
        reach = max((abs(o) for o in offsets), default=0)
        self.frames = VideoFrames(video, timings, reach=reach, pool=self._pool)
        self._found: dict[int, np.ndarray] = {}  # detections by position, made once
        # the segmenter's motion cue from the scan, by position, until the labelling is past it
        self._diffs: dict[int, tuple[np.ndarray, float]] = {}
        self.reacquired: dict[int, bool] = {}
        self.runaway: dict[int, bool] = {}
        self.anchor: anchors.Anchor | None = None
        self._behind = Behind(parts.config.prefetch)

    def _motion(self, position: int, frame: np.ndarray) -> np.ndarray | None:
        """The frame's difference from its camera-compensated background at full size, for
        segmenters that use it."""
        offsets = self.parts.segmenter.motion_offsets
        if not offsets:
            return None
        if position in self._diffs:
            diff, scale = self._diffs.pop(position)
        else:
            bg = self.frames.background(position, offsets)
            diff, scale = bg.diff, bg.scale
        if scale != 1.0:
            with self.timings.stage("motion"):
                diff = cv2.resize(diff, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
        return diff

    def _detect(self, position: int, frame: np.ndarray) -> np.ndarray:
        if position in self._found:
            return self._found[position]
        detector = self.parts.detector
        around = [self.frames.read(p) for p in self.frames.around(position, detector.offsets)]
        background = self.frames.background(position, detector.offsets) if detector.uses_background else None
        with self.timings.stage("detection"):
            self._found[position] = detector.detect(frame, around, background)
        return self._found[position]

    def _scan(self) -> anchors.Anchor | None:
        """Detections on every ``scan_step``-th frame of the video, and the anchor they point to;
        ``batch_size`` frames at a time, their frames and backgrounds made ahead (``_scan_load``)."""
        step = self.parts.config.scan_step
        detector = self.parts.detector
        share = detector.uses_background and detector.offsets == self.parts.segmenter.motion_offsets
        batch, depth = self.parts.config.batch_size, self.parts.config.prefetch
        positions = range(0, len(self.video.frame_numbers), step)
        chunks = [positions[c : c + batch] for c in range(0, len(positions), batch)]
        found = {}
        with Ahead(self._scan_load, chunks, depth) as ahead:
            for i, (chunk, _) in enumerate(ahead):
                for p in chunk:
                    found[p] = self._detect(p, self.frames.read(p))
                    if share:  # the segmenter will want the same difference on this frame
                        bg = self.frames.background(p, detector.offsets)
                        self._diffs[p] = bg.diff, bg.scale
                near = [p for c in chunks[i : i + depth + 1] for p in c]  # this chunk and those ahead
                self.frames.forget(min(near), max(near))
        return anchors.choose(found, step, len(self.targets))

    def _scan_load(self, positions: range) -> None:
        """The frames the detector will look at for ``positions`` (and their backgrounds)."""
        detector = self.parts.detector
        if detector.uses_background:
            self.frames.backgrounds(positions, detector.offsets)
        for p in positions:
            for q in [p, *self.frames.around(p, detector.offsets)]:
                self.frames.read(q)

    def _frame(self, position: int, frame: np.ndarray, image: Any) -> tuple[list[np.ndarray], float]:
        cv2.setRNGSeed((self.seed + position) & 0x7FFFFFFF)
        here = self.prompts.get(self.video.frame_numbers[position], {})
        detected = self.anchor is not None and position == self.anchor.position
        motion_cue = functools.cache(lambda: self._motion(position, frame))  # made at most once a frame
        chosen, priors, reacquired = self.targets.boxes(
            position,
            frame,
            here=here,
            first_prior=(
                (lambda box: moving_prior(motion_cue(), box, rules=self.targets.rules))
                if detected
                else None
            ),
            detect=(lambda: self._detect(position, frame)) if self.parts.detector is not None else None,
        )
        self.reacquired.setdefault(position, reacquired)
        if not chosen:
            return [np.zeros(frame.shape[:2], bool) for _ in self.targets], float("nan")
        ids = sorted(chosen)
        stacked = np.stack([chosen[i] for i in ids])
        with self.timings.stage("segmenter"):
            wants = self.parts.segmenter.needs_motion(image, stacked)
        motion = motion_cue() if wants else None
        with self.timings.stage("segmenter"):
            result = self.parts.segmenter.segment(
                image,
                stacked,
                [priors[i] for i in ids],
                self.seed + position,
                motion,
                [self.targets.model(i) for i in ids],
            )
        masks, runaway = self.targets.keep(
            position,
            frame,
            masks={i: seg.mask for i, seg in zip(ids, result, strict=True)},
            prompted=set(here),
        )
        if runaway:
            self.runaway[position] = True
        finite = [s.score for s in result if np.isfinite(s.score)]
        return masks, float(np.mean(finite)) if finite else float("nan")

    def _start_position(self) -> int:
        """Where labelling starts: the first prompted frame; without prompts, the anchor of a
        detector scan (its boxes then act as this video's prompts); else the first frame."""
        numbers = self.video.frame_numbers
        if self.prompts:
            first = min(self.prompts)
            return next(p for p, n in enumerate(numbers) if n == first)
        if self.parts.detector is None or not self.parts.config.scan_step:
            return 0
        self.anchor = self._scan()
        if self.anchor is None:
            return 0
        left_to_right = sorted(self.anchor.boxes, key=lambda b: (b[0], b[1]))
        self.prompts = {numbers[self.anchor.position]: dict(zip(self.targets.ids, left_to_right))}
        return self.anchor.position

    def _load(self, positions: range) -> tuple[list[np.ndarray], list[Any]]:
        """A batch's frames, through the segmenter's ``prepare``, with their motion cue made
        (on the worker thread when the pipeline prefetches)."""
        frames = [self.frames.read(p) for p in positions]
        with self.timings.stage("encoder"):
            images = self.parts.segmenter.prepare(frames)
        offsets = self.parts.segmenter.motion_offsets
        if offsets:
            self.frames.backgrounds([p for p in positions if p not in self._diffs], offsets)
        return frames, images

    def _encode(self, masks: np.ndarray) -> list[dict]:
        with self.timings.stage("rle"):
            return rle.encode_batch(masks)

    def _pass(
        self,
        order: range,
        encoded: list[tuple[range, Any]],
        scores: dict[int, float],
        bar: Any,
        *,
        again: int | None = None,
    ) -> None:
        """Label the positions of ``order`` in turn, ``batch_size`` frames at a time; each batch's
        masks go to RLE encoding (``encoded``: positions and the pending result). A batch's motion
        cues from the scan are dropped once it is done, except at ``again`` (a later pass starts
        there)."""
        batch = self.parts.config.batch_size
        depth = self.parts.config.prefetch
        chunks = [order[c : c + batch] for c in range(0, len(order), batch)]
        done = {p for positions, _ in encoded for p in positions}
        with Ahead(self._load, chunks, depth) as ahead:
            for i, (positions, (frames, images)) in enumerate(ahead):
                chunk = []
                for p, frame, image in zip(positions, frames, images, strict=True):
                    masks, score = self._frame(p, frame, image)
                    chunk.append(masks)
                    scores.setdefault(p, score)
                masks = np.stack([m for objs in chunk for m in objs])  # a copy: plug-ins may reuse theirs
                encoded.append((positions, self._behind.submit(self._encode, masks)))
                for p in positions:
                    if p != again:
                        self._diffs.pop(p, None)
                near = [p for c in chunks[i : i + depth + 1] for p in c]  # this batch and those ahead
                self.frames.forget(min(near), max(near))
                new = [p for p in positions if p not in done]
                done.update(new)
                self.timings.frames += len(new)
                bar.update(len(new))

    def run(self, frame_bar: Any) -> LayerData:
        """Label forwards from the start position to the end, then (afresh) backwards from it to
        the first frame."""
        numbers = self.video.frame_numbers
        n = len(numbers)
        encoded: list[tuple[range, Any]] = []
        scores: dict[int, float] = {}
        try:
            start = self._start_position()
            self._pass(range(start, n), encoded, scores, frame_bar, again=start if start > 0 else None)
            if start > 0:
                self.targets.reset()
                self._pass(range(start, -1, -1), encoded, scores, frame_bar)
        finally:
            self._behind.close()
            if self._pool is not None:
                self._pool.shutdown(wait=True)
        k = len(self.targets)
        rles: dict[int, list[dict]] = {}
        for positions, pending in encoded:  # the first result for each position (the start is
            flat = pending.result()  # labelled by both passes)
            for j, p in enumerate(positions):
                rles.setdefault(p, flat[j * k : (j + 1) * k])
        h, w = self.frames.size
        ordered = [rles[p] for p in range(n)]
        with self.timings.stage("rle"):
            quality = frame_flags([rle.union(objs, (h, w)) for objs in ordered], h, w)
        quality["reacquired"] = np.asarray([self.reacquired[p] for p in range(n)], np.float32)
        quality["runaway"] = np.asarray([self.runaway.get(p, False) for p in range(n)], np.float32)
        record = dict(self.parts.provenance(), time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if self.anchor is not None:
            frame = numbers[self.anchor.position]
            record["anchor"] = {
                "frame": int(frame),
                "boxes": [[round(float(v), 1) for v in b] for b in self.prompts[frame].values()],
            }
        return LayerData(
            frames=np.asarray(numbers, np.int64),
            masks=ordered,
            height=h,
            width=w,
            object_ids=[[t.object_id for t in self.targets]] * n,
            scores=np.asarray([scores[p] for p in range(n)], np.float32),
            quality=quality,
            provenance=[record],
        )


def label_video(
    video: Video, parts: Components, *, timings: Timings | None = None, frame_bar: Any = None
) -> LayerData:
    """Pseudo masks for every frame of one video (raises VideoFailed on an unreadable frame);
    ``frame_bar`` (a ``Reporter.bar``) counts the frames done."""
    if not video.frame_numbers:
        raise VideoFailed(f"video {video.id}: has no frames")
    timings = timings if timings is not None else Timings()
    bar = frame_bar if frame_bar is not None else Reporter().bar(total=0, desc=video.id, unit="frame")
    return _VideoLabeller(video, parts, timings).run(bar)


@dataclass
class RunReport:
    """What a run did: videos labelled, skipped as already done, failed (with the reason)."""

    labelled: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)


def run(
    videos: Sequence[Video],
    out: str | Path,
    parts: Components,
    *,
    resume: bool = False,
    overwrite: bool = False,
    reporter: Reporter | None = None,
) -> RunReport:
    """Label ``videos`` into the ``pseudo`` layer of store ``out``, one commit per video.

    A video that fails (an unreadable frame) is left out, reported to ``reporter.failed`` at once
    and listed in the report; the others go on. Progress goes to ``reporter``'s bars. Each video
    is committed on a worker thread while the next one is labelled (``prefetch`` > 0); the run
    returns once every commit is done.
    """
    reporter = reporter if reporter is not None else Reporter()
    if resume and overwrite:
        raise PipelineError("resume keeps finished videos and overwrite redoes them: choose one")
    report = RunReport()
    started = time.perf_counter()
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # same results whatever the machine; parallelism comes from --shard
    try:
        with MaskStore.open(out, mode="a") as store:
            done = [v.id for v in videos if store.has(v.id, LAYER)]
            if done and not (resume or overwrite):
                raise PipelineError(
                    f"{out} already has pseudo masks for {len(done)} of these videos (first: {done[0]}); "
                    "resume finishes the others, overwrite redoes them"
                )
            todo = [v for v in videos if not (resume and v.id in set(done))]
            report.skipped = [v.id for v in videos if resume and v.id in set(done)]
            committer = Behind(parts.config.prefetch, limit=1)
            commits: deque[tuple[str, Any]] = deque()

            def commit(video: Video, data: LayerData) -> None:
                with report.timings.stage("store"):
                    store.put(video.id, LAYER, data, metadata=dict(video.metadata))

            def settle(everything: bool) -> None:
                while commits and (everything or commits[0][1].done()):
                    video_id, pending = commits.popleft()
                    pending.result()  # a failed commit stops the run, as it always did
                    report.labelled.append(video_id)

            videos_bar = reporter.bar(todo, desc="videos", unit="video", position=0)
            with contextlib.closing(committer), videos_bar as bar:
                for video in bar:
                    frames = reporter.bar(
                        total=len(video.frame_numbers), desc=video.id, unit="frame", leave=False, position=1
                    )
                    try:
                        data = label_video(video, parts, timings=report.timings, frame_bar=frames)
                    except VideoFailed as exc:
                        report.failed.append((video.id, str(exc)))
                        reporter.failed(video.id, str(exc))
                        continue
                    finally:
                        frames.close()
                    commits.append((video.id, committer.submit(commit, video, data)))
                    settle(everything=False)
            settle(everything=True)
    finally:
        cv2.setNumThreads(threads)
        report.timings.wall = time.perf_counter() - started
    return report
