"""Writing imported masks into a store: object ids settled against the curated masks, a summary
of what changed, and one transaction for all videos, so a bad file leaves the store
byte-identical.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hm_annotate import __version__, rle
from hm_annotate.io.coco.names import CocoError
from hm_annotate.io.coco.parse import FrameParts, load_coco, plan_import
from hm_annotate.io.identity import FrameIds, assign_ids
from hm_annotate.reporting import Reporter
from hm_annotate.rle import RLE
from hm_annotate.store import LayerData, MaskStore

MAX_ANNOTATOR = 256  # characters of info.contributor kept in provenance (a 50 MB one was stored as is)

@dataclass
class ImportSummary:
    """What an import did (or would do, for a dry run) relative to the curated masks before it."""

    source: str
    layer: str
    videos: int = 0
    images: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    mean_iou: float | None = None
    mean_object_iou: float | None = None  # mean over objects (per video and id) of their mean IoU
    matched_frames: int = 0  # frames whose objects had no object_id and were matched by IoU
    id_swaps: int = 0  # frames whose object_ids disagree with the best IoU matching
    ignored_annotations: int = 0
    written: bool = False
    per_video: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _frame_objects(
    parts: list[tuple[int | None, RLE]], size: tuple[int, int], current: LayerData | None, frame: int
) -> tuple[list[RLE], list[int], FrameIds]:
    """Objects of a frame by id: parts sharing an id are one object; parts without an id are
    matched to the frame's current objects by IoU (``identity.assign_ids``)."""
    by_id: dict[int, list[RLE]] = {}
    loose: list[RLE] = []
    for object_id, mask in parts:
        if object_id is None:
            loose.append(mask)
        else:
            by_id.setdefault(object_id, []).append(mask)
    masks = [rle.union(by_id[i], size) for i in by_id] + loose
    given: list[int | None] = [*by_id, *[None] * len(loose)]
    j = _position(current, frame)
    old_masks = current.masks[j] if j is not None else []
    old_ids = current.object_ids[j] if j is not None else []
    found = assign_ids(masks, given, old_masks, old_ids)
    order = np.argsort(found.ids, kind="stable")
    return [masks[k] for k in order], [found.ids[k] for k in order], found


def _position(data: LayerData | None, frame: int) -> int | None:
    if data is None:
        return None
    try:
        return data.index(frame)
    except KeyError:
        return None


def build_layer(
    video_id: str, frames: list[FrameParts], current: LayerData | None, summary: ImportSummary
) -> LayerData:
    """A video's imported frames as layer data with object ids settled against ``current`` (the
    curated masks before the import); records matched frames and frames whose ids look swapped
    in ``summary``."""
    frames = sorted(frames, key=lambda i: i.frame)
    size = (frames[0].height, frames[0].width)
    masks, ids, matched, swapped = [], [], 0, []
    for f in frames:
        objs, obj_ids, found = _frame_objects(f.parts, size, current, f.frame)
        masks.append(objs)
        ids.append(obj_ids)
        matched += found.matched
        if found.swapped:
            swapped.append(f.frame)
    summary.per_video[video_id] = {"matched_frames": matched, "swapped_frames": swapped}
    summary.matched_frames += matched
    summary.id_swaps += len(swapped)
    return LayerData(
        frames=np.array([f.frame for f in frames], np.int64),
        masks=masks,
        object_ids=ids,
        height=size[0],
        width=size[1],
    )


def _frame_status(
    old: LayerData | None, new: LayerData
) -> tuple[list[str], list[float], dict[int, list[float]]]:
    """Each new frame against the curated masks before the import: added, changed or unchanged.

    Also the union-mask IoU of every frame that was there before, and per object id the IoU of
    the object before and after on those frames (an object missing on one side counts as empty).
    """
    status: list[str] = []
    ious: list[float] = []
    per_object: dict[int, list[float]] = {}
    size = (new.height, new.width)
    for i, frame in enumerate(new.frames):
        j = _position(old, int(frame))
        if j is None:
            status.append("added")
            continue
        same = old.object_ids[j] == new.object_ids[i] and [m["counts"] for m in old.masks[j]] == [
            m["counts"] for m in new.masks[i]
        ]
        status.append("unchanged" if same else "changed")
        ious.append(1.0 if same else rle.iou(old.union(j), new.union(i)))
        before = dict(zip(old.object_ids[j], old.masks[j]))
        after = dict(zip(new.object_ids[i], new.masks[i]))
        for oid in sorted(set(before) | set(after)):
            pair = (before.get(oid) or rle.empty(size), after.get(oid) or rle.empty(size))
            per_object.setdefault(oid, []).append(1.0 if same else rle.iou(*pair))
    return status, ious, per_object


def apply_import(
    st: MaskStore,
    plan: Mapping[str, list[FrameParts]],
    summary: ImportSummary,
    provenance: dict[str, Any],
    *,
    dry_run: bool = False,
    changed_only: bool = False,
    reporter: Reporter | None = None,
) -> ImportSummary:
    """Write planned frames into ``summary.layer`` in one transaction (unless ``dry_run``) and
    fill the summary: frames added/changed/unchanged, union and per-object IoU, id matching."""
    ious: list[float] = []
    object_ious: list[float] = []
    writes: dict[str, LayerData] = {}
    bar = (reporter or Reporter()).bar(plan.items(), desc="import", unit="video")
    for video_id, frames in bar:
        current = st.read(video_id, "curated") if st.has(video_id, "curated") else None
        new = build_layer(video_id, frames, current, summary)
        status, video_ious, per_object = _frame_status(current, new)
        counts = {k: status.count(k) for k in ("added", "changed", "unchanged")}
        object_iou = {oid: float(np.mean(v)) for oid, v in per_object.items()}
        summary.per_video[video_id] |= {
            **counts,
            "mean_iou": float(np.mean(video_ious)) if video_ious else None,
            "object_iou": object_iou,
        }
        object_ious += object_iou.values()
        ious += video_ious
        summary.images += len(new)
        summary.added += counts["added"]
        summary.changed += counts["changed"]
        summary.unchanged += counts["unchanged"]
        new.provenance = [provenance]
        if changed_only:
            new = new.subset([i for i, s in enumerate(status) if s != "unchanged"])
        if len(new):
            writes[video_id] = new
    summary.videos = len(plan)
    summary.mean_iou = float(np.mean(ious)) if ious else None
    summary.mean_object_iou = float(np.mean(object_ious)) if object_ious else None
    if not dry_run and writes:
        with st.transaction():
            for video_id, new in writes.items():
                st.put(video_id, summary.layer, new, merge=True)
        summary.written = True
    return summary


def import_provenance(tool: str, source: Path, parameters: dict[str, Any], who: str) -> dict[str, Any]:
    """The provenance record of an import."""
    return {
        "tool": tool,
        "tool_version": __version__,
        "source": str(source.resolve()),
        "parameters": parameters,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "user": who,
    }


def annotator_name(annotator: str | None, info: object) -> str:
    """Who corrected the masks: the given name, else the file's ``info.contributor``, else the login."""
    contributor = info.get("contributor") if isinstance(info, dict) else None
    return annotator or contributor or os.environ.get("USER") or getpass.getuser()


def import_parsed(
    data: dict[str, Any],
    source: str | os.PathLike,
    store_path: str | os.PathLike,
    *,
    tool: str,
    parameters: dict[str, Any],
    layer: str = "corrected",
    dry_run: bool = False,
    annotator: str | None = None,
    file_name_pattern: str | None = None,
    videos: Sequence[str] | None = None,
    known_frames: Mapping[str, Iterable[int]] | None = None,
    changed_only: bool = False,
    polygon_mode: str = "auto",
    frame_paths: Mapping[str, Mapping[int, str]] | None = None,
    reporter: Reporter | None = None,
) -> ImportSummary:
    """Import a parsed COCO dict (read from ``source``) into a store layer, all or nothing; other
    frames stay as they were. What every importer (COCO, YouTube-VIS) ends in.

    Every frame of the file is written (a frame a person reviewed is verified even when unchanged)
    unless ``changed_only``. Provenance records ``tool``, ``parameters``, the source file, time and
    annotator (default: the file's ``info.contributor``, else the login name). Objects without an
    ``object_id`` attribute take the ids of the current objects they overlap best (see
    ``hm_annotate.io.identity``). The options are those of ``plan_import``.
    """
    source = Path(source)
    summary = ImportSummary(source=str(source), layer=layer)
    who = annotator_name(annotator, data.get("info"))
    if not isinstance(who, str) or len(who) > MAX_ANNOTATOR:
        raise CocoError(f"{source}: info.contributor is not a name of at most {MAX_ANNOTATOR} characters")
    with MaskStore.open(store_path, "r" if dry_run else "a") as st:
        plan, summary.ignored_annotations = plan_import(
            data, st, str(source), file_name_pattern=file_name_pattern, videos=videos,
            known_frames=known_frames, polygon_mode=polygon_mode, frame_paths=frame_paths,
        )
        record = import_provenance(tool, source, parameters, who)
        return apply_import(
            st, plan, summary, record, dry_run=dry_run, changed_only=changed_only, reporter=reporter
        )


def import_coco(
    coco_path: str | os.PathLike, store_path: str | os.PathLike, *, polygon_mode: str = "auto", **options: Any
) -> ImportSummary:
    """Import a COCO file into a store layer, all or nothing (``import_parsed``: ``layer``,
    ``dry_run``, ``annotator``, ``file_name_pattern``, ``videos``, ``known_frames``,
    ``changed_only``, ``frame_paths``, ``reporter``). ``polygon_mode`` says where polygon
    vertices sit (``hm_annotate.io.polygons``)."""
    params = {"format": "coco", "polygons": polygon_mode}
    return import_parsed(
        load_coco(coco_path), coco_path, store_path, tool="hm-annotate import-coco", parameters=params,
        polygon_mode=polygon_mode, **options,
    )  # fmt: skip
