"""COCO instance segmentation: export a store layer for correction, import the corrections back.

Export writes one image per frame (``file_name`` = the frame's path relative to the dataset's
frames root, so annotation tools such as CVAT can match it to their task images) and one
annotation per object with its RLE taken straight from the store (no decoding) and the custom
``attributes`` ``source``, ``score`` and ``object_id``. An athlete-free frame is an image without
annotations (an empty mask is never an annotation: CVAT's mask importer fails on one and COCOeval
counts it as a false positive). Image ids derive from (video, frame) alone (``image_id_of``), so
every export of every store of a dataset numbers a frame the same way.

``iscrowd`` is 0. The original COCO files pair RLE with ``iscrowd=1``, but that flag means "a
crowd region to ignore": pycocotools' COCOeval, detectron2 and mmdetection skip such objects,
which would drop every athlete. Readers do not need the flag to read RLE: pycocotools'
``annToRLE`` and datumaro's COCO importer (behind CVAT's "COCO 1.0") take any ``segmentation``
dict as a mask, whatever ``iscrowd`` says; YouTube-VIS ships RLE with ``iscrowd=0`` too.

Import accepts what annotation tools write back: compressed or uncompressed RLE and polygons
(several rings per annotation; several annotations per image are several objects, or parts of one
object when they share an ``object_id`` attribute). Everything is validated before the store is
opened for writing, and all videos are written in one transaction, so a bad file leaves the store
byte-identical.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import json
import math
import os
import re
import string
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hm_annotate import __version__, rle
from hm_annotate.datasets.base import Video
from hm_annotate.errors import HMError
from hm_annotate.io.identity import FrameIds, assign_ids
from hm_annotate.io.polygons import PolygonError, polygons_to_rle
from hm_annotate.rle import RLE, RLEError
from hm_annotate.store import LayerData, MaskStore

DEFAULT_FILE_NAME_PATTERN = "{video_id}/{frame:05d}.jpg"
MAX_ANNOTATOR = 256  # characters of info.contributor kept in provenance (a 50 MB one was stored as is)
# a video's metadata may carry its own frame path template (e.g. AQA-7's "img_{frame:05d}.jpg")
PATTERN_METADATA_KEY = "frame_name_pattern"
CATEGORY = {"id": 1, "name": "athlete", "supercategory": "person"}
_TRAILING_DIGITS = re.compile(r"\d+$")


class CocoError(HMError):
    """A COCO file, frame list or file-name pattern that cannot be exported or imported."""


# ----------------------------------------------------------------------------- file names


class FileNamePattern:
    """A frame path template with the fields ``{video_id}`` and ``{frame}`` (e.g. ``{frame:05d}``).

    Export formats it; import splits a file name into the literal text around the frame number
    and looks that up per video, so any pattern works both ways as long as the frame number is
    not glued to other digits.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            parts = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise CocoError(f"file-name pattern {text!r}: {exc}") from None
        fields = [p[1] for p in parts if p[1] is not None]
        bad = sorted({f for f in fields if f not in ("video_id", "frame")})
        if bad:
            raise CocoError(
                f"file-name pattern {text!r}: unknown field(s) {bad}; use {{video_id}} and {{frame}}"
            )
        if fields.count("frame") != 1:
            raise CocoError(f"file-name pattern {text!r} must contain {{frame}} exactly once")
        if any(p[2] and "{" in p[2] for p in parts):
            raise CocoError(f"file-name pattern {text!r}: nested fields are not supported")
        self._parts = parts
        try:
            self.format("v", 1)
        except (ValueError, TypeError) as exc:
            raise CocoError(f"file-name pattern {text!r}: {exc}") from None

    def format(self, video_id: str, frame: int) -> str:
        """The file name of a frame."""
        return self.text.format(video_id=video_id, frame=int(frame))

    def split(self, video_id: str) -> tuple[str, str]:
        """The literal text before and after the frame number in this video's file names."""
        before: list[str] = []
        after: list[str] = []
        out = before
        for literal, name, spec, conv in self._parts:
            out.append(literal)
            if name == "frame":
                out = after
            elif name == "video_id":
                value = {"r": repr, "a": ascii}.get(conv or "", str)(video_id)
                out.append(format(value, spec or ""))
        prefix = "".join(before)
        if prefix[-1:].isdigit():
            raise CocoError(
                f"file-name pattern {self.text!r}: the frame number directly follows a digit for video "
                f"{video_id!r}, so file names cannot be read back"
            )
        return prefix, "".join(after)


class FrameNameIndex:
    """Maps frame file names back to ``(video_id, frame)`` for a set of videos."""

    def __init__(self, patterns: Mapping[str, FileNamePattern]) -> None:
        self._by_suffix: dict[str, dict[str, str]] = {}
        for video_id, pattern in patterns.items():
            prefix, suffix = pattern.split(video_id)
            known = self._by_suffix.setdefault(suffix, {})
            if prefix in known:
                raise CocoError(
                    f"file-name pattern {pattern.text!r} gives videos {known[prefix]!r} and {video_id!r} "
                    "the same file names; restrict the import to one video"
                )
            known[prefix] = video_id

    def lookup(self, file_name: str) -> tuple[str, int] | None:
        """The video and frame number a file name stands for, or None."""
        for suffix, prefixes in self._by_suffix.items():
            if not file_name.endswith(suffix):
                continue
            rest = file_name[: len(file_name) - len(suffix)]
            m = _TRAILING_DIGITS.search(rest)
            if m and rest[: m.start()] in prefixes and len(m.group()) <= 18:
                return prefixes[rest[: m.start()]], int(m.group())
        return None


def video_patterns(
    st: MaskStore, video_ids: Iterable[str], override: str | None
) -> dict[str, FileNamePattern]:
    """Each video's file-name pattern: the override, else its metadata's, else the default."""
    cache: dict[str, FileNamePattern] = {}

    def get(text: str) -> FileNamePattern:
        if text not in cache:
            cache[text] = FileNamePattern(text)
        return cache[text]

    if override is not None:
        return {v: get(override) for v in video_ids}
    return {v: get(st.metadata(v).get(PATTERN_METADATA_KEY) or DEFAULT_FILE_NAME_PATTERN) for v in video_ids}


class FrameNames:
    """Frame file names both ways: the dataset's own frame paths where given, else patterns.

    ``paths`` maps video ids to ``{frame: path relative to the frames root}`` (``Video.frame_paths``
    of a dataset adapter), which names frames exactly even where a pattern cannot (AQA-7's
    ``diving-out/001/img_00001.jpg`` for video ``diving/001``).
    """

    def __init__(
        self, patterns: Mapping[str, FileNamePattern], paths: Mapping[str, Mapping[int, str]] | None = None
    ) -> None:
        self.patterns = dict(patterns)
        self.paths = {v: fp for v, fp in (paths or {}).items() if v in self.patterns}
        self._index = FrameNameIndex({v: p for v, p in self.patterns.items() if v not in self.paths})
        self._by_path = {path: (v, int(f)) for v, fp in self.paths.items() for f, path in fp.items()}

    def name(self, video_id: str, frame: int) -> str:
        """The file name of a frame."""
        if video_id not in self.paths:
            return self.patterns[video_id].format(video_id, frame)
        try:
            return self.paths[video_id][frame]
        except KeyError:
            raise CocoError(f"video {video_id!r} frame {frame}: the dataset has no such frame") from None

    def lookup(self, file_name: str) -> tuple[str, int] | None:
        """The video and frame number a file name stands for, or None."""
        return self._by_path.get(file_name) or self._index.lookup(file_name)


def dataset_frame_paths(videos: Iterable[Video]) -> dict[str, dict[int, str]]:
    """Frame paths of a dataset's videos (``Video.frame_paths``; videos read from files have none)."""
    return {v.id: dict(v.frame_paths) for v in videos if v.frame_paths}


# ----------------------------------------------------------------------------- export


def read_frame_list(path: str | os.PathLike) -> dict[str, list[int]]:
    """Frames named by a CSV with columns ``video_id`` and ``frame`` (e.g. the review queue)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"video_id", "frame"} - set(reader.fieldnames or ())
            if missing:
                raise CocoError(f"{path}: missing column(s) {sorted(missing)} (need video_id, frame)")
            out: dict[str, set[int]] = {}
            for row in reader:
                try:
                    frame = int(row["frame"])
                except (TypeError, ValueError):
                    raise CocoError(
                        f"{path}: line {reader.line_num}: frame {row['frame']!r} is not an integer"
                    ) from None
                out.setdefault(row["video_id"], set()).add(frame)
    except UnicodeDecodeError as exc:
        raise CocoError(f"{path}: not a UTF-8 CSV file ({exc})") from None
    return {v: sorted(f) for v, f in out.items()}


def image_id_of(video_id: str, frame: int) -> int:
    """The COCO image id of a frame: the same in every export of every store, subset or not.

    1 + (the first 8 bytes of SHA-1 of ``"<video_id>/<frame>"``, big-endian) mod (2^53 - 1), so
    ids pair the same frames across exports (COCOeval matches results to images by id) and stay
    exact in JSON readers that hold numbers as doubles.
    """
    return stable_id(f"{video_id}/{int(frame)}")


def stable_id(key: str) -> int:
    """1 + (the first 8 bytes of SHA-1 of ``key``, big-endian) mod (2^53 - 1): an id that depends
    on the key alone and stays exact where JSON numbers are doubles."""
    return 1 + int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") % (2**53 - 1)


def _score(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def export_coco(
    store_path: str | os.PathLike,
    layer: str = "curated",
    videos: Sequence[str] | None = None,
    frames: Mapping[str, Iterable[int]] | None = None,
    file_name_pattern: str | None = None,
    progress: bool = False,
    frame_paths: Mapping[str, Mapping[int, str]] | None = None,
) -> dict[str, Any]:
    """A COCO instances dict of a store layer (all videos, some videos, or listed frames).

    Images carry ``video_id`` and ``frame`` besides the COCO fields; annotations carry the RLE
    counts exactly as stored. ``frames`` maps video ids to frame numbers (each must be in the layer).
    ``file_name`` comes from ``frame_paths`` (a dataset's, see ``dataset_frame_paths``) where given,
    else from the file-name pattern.
    """
    from tqdm import tqdm

    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    taken: dict[int, tuple[str, int]] = {}
    with MaskStore.open(store_path) as st:
        ids = _select_videos(st, layer, videos, frames)
        names = FrameNames(video_patterns(st, ids, file_name_pattern), frame_paths)
        for video_id in tqdm(ids, desc="export-coco", unit="video", disable=not progress or None):
            data = st.read(video_id, layer)
            positions = _positions(st, video_id, layer, data, None if frames is None else frames[video_id])
            source = _frame_sources(st, video_id, layer, data.frames)
            flat = [m for p in positions for m in data.masks[p]]
            areas = rle.area(flat).tolist()
            boxes = np.round(rle.bbox(flat), 2).tolist()
            k = 0
            for p in positions:
                frame = int(data.frames[p])
                image_id = image_id_of(video_id, frame)
                if image_id in taken:
                    raise CocoError(
                        f"video {video_id!r} frame {frame} and video {taken[image_id][0]!r} frame "
                        f"{taken[image_id][1]} hash to the same image id {image_id}; export them separately"
                    )
                taken[image_id] = (video_id, frame)
                images.append(
                    {
                        "id": image_id,
                        "file_name": names.name(video_id, frame),
                        "width": data.width,
                        "height": data.height,
                        "video_id": video_id,
                        "frame": frame,
                    }
                )
                score = _score(data.scores[p])
                for mask, object_id in zip(data.masks[p], data.object_ids[p]):
                    attributes: dict[str, Any] = {"source": source[p], "object_id": int(object_id)}
                    if score is not None:
                        attributes["score"] = score
                    annotations.append(
                        {
                            "id": len(annotations) + 1,
                            "image_id": image_id,
                            "category_id": CATEGORY["id"],
                            "segmentation": {"size": [data.height, data.width], "counts": mask["counts"]},
                            "area": areas[k],
                            "bbox": boxes[k],
                            "iscrowd": 0,
                            "attributes": attributes,
                        }
                    )
                    k += 1
    return {
        "info": export_info(store_path, layer, file_name_pattern, frame_paths),
        "licenses": [],
        "categories": [dict(CATEGORY)],
        "images": images,
        "annotations": annotations,
    }


def export_info(
    store_path: str | os.PathLike,
    layer: str,
    file_name_pattern: str | None,
    frame_paths: Mapping[str, Mapping[int, str]] | None,
) -> dict[str, Any]:
    """The ``info`` of an export: what it holds, when and how its file names were made."""
    return {
        "description": f"hm-annotate {layer} masks of {Path(store_path).name}",
        "version": __version__,
        "date_created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "contributor": "",
        "hm_annotate": {
            "store": str(Path(store_path).resolve()),
            "layer": layer,
            "file_names": "dataset frame paths"
            if frame_paths
            else file_name_pattern
            or f"per video metadata {PATTERN_METADATA_KEY!r}, else {DEFAULT_FILE_NAME_PATTERN}",
        },
    }


def coco_results(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A COCO results list (what ``COCO.loadRes`` reads) from an export: one entry per annotation.

    The score is the frame's segmenter score, 1.0 where the store has none (corrected masks).
    """
    return [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "segmentation": a["segmentation"],
            "score": a["attributes"].get("score", 1.0),
            "attributes": a["attributes"],
        }
        for a in data["annotations"]
    ]


def _select_videos(
    st: MaskStore, layer: str, videos: Sequence[str] | None, frames: Mapping[str, Iterable[int]] | None
) -> list[str]:
    stored = set(st.videos())
    for v in list(videos or ()) + list(frames or ()):
        if v not in stored:
            raise CocoError(f"{st.path}: no video {v!r}")
    if videos is None:
        ids = [v for v in st.videos() if st.has(v, layer)]
    else:
        ids = list(dict.fromkeys(videos))
        for v in ids:
            if not st.has(v, layer):
                raise CocoError(f"{st.path}: video {v!r} has no {layer!r} masks")
    if frames is not None:
        for v in frames:
            if not st.has(v, layer):
                raise CocoError(f"{st.path}: video {v!r} has no {layer!r} masks")
        ids = [v for v in ids if v in frames]
    return ids


def _positions(
    st: MaskStore, video_id: str, layer: str, data: LayerData, wanted: Iterable[int] | None
) -> np.ndarray:
    if wanted is None:
        return np.arange(len(data))
    wanted = np.unique(np.fromiter((int(f) for f in wanted), np.int64))
    pos = np.searchsorted(data.frames, wanted)
    ok = (pos < len(data)) & (data.frames[np.minimum(pos, max(len(data) - 1, 0))] == wanted)
    if not ok.all():
        raise CocoError(f"{st.path}: video {video_id!r} has no frame {int(wanted[~ok][0])} in {layer!r}")
    return pos


def _frame_sources(st: MaskStore, video_id: str, layer: str, frame_numbers: np.ndarray) -> list[str]:
    """Which stored layer each frame of a view comes from (curated: corrected over pseudo)."""
    if layer != "curated":
        return [layer] * len(frame_numbers)
    corrected = st.area_bbox(video_id, "corrected")[0] if st.has(video_id, "corrected") else []
    return np.where(np.isin(frame_numbers, corrected), "corrected", "pseudo").tolist()


def write_coco(data: Mapping[str, Any] | list[dict[str, Any]], out: str | os.PathLike) -> Path:
    """Write a COCO dict (or results list) as compact JSON, atomically (a partial file never
    takes the name)."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        text = json.dumps(data, separators=(",", ":"), allow_nan=False)  # 2x faster than json.dump
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# ----------------------------------------------------------------------------- import


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


def load_coco(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a COCO JSON file (one clear error for unreadable or non-object JSON)."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:  # also integers of more than 4300 digits
        raise CocoError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise CocoError(f"{path}: not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise CocoError(f"{path}: a COCO file is a JSON object, got {type(data).__name__}")
    return data


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _object_id(ann: Mapping[str, Any]) -> int | None:
    """The ``object_id`` attribute (int, integral float or digit string as tools write it)."""
    attrs = ann.get("attributes")
    value = attrs.get("object_id") if isinstance(attrs, dict) else None
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not number.is_integer() or not 0 < number < 2**15:
        raise ValueError(f"object_id {value!r} is not an integer in 1..32767")
    return int(number)


@dataclass
class FrameParts:
    """One image of an imported file: its frame and its masks, each with its ``object_id`` or None."""

    file_name: str
    video_id: str
    frame: int
    height: int
    width: int
    parts: list[tuple[int | None, RLE]] = field(default_factory=list)


class _Parser:
    """Validates a COCO dict against a store and turns it into per-video layer data."""

    def __init__(
        self,
        st: MaskStore,
        source: str,
        names: FrameNames,
        known_frames: Mapping[str, Iterable[int]],
        polygon_mode: str,
    ) -> None:
        self.st = st
        self.polygon_mode = polygon_mode
        self.source = source
        self.index = names
        self.videos = set(names.patterns)
        self.known_frames = known_frames
        self._frames: dict[str, np.ndarray] = {}
        self._frame_sets: dict[str, set[int]] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        self.ignored = 0

    def fail(self, msg: str, img: FrameParts | None = None, file_name: str | None = None) -> CocoError:
        if img is not None:
            return CocoError(
                f"{self.source}: image {img.file_name!r} (video {img.video_id}, frame {img.frame}): {msg}"
            )
        if file_name is not None:
            return CocoError(f"{self.source}: image {file_name!r}: {msg}")
        return CocoError(f"{self.source}: {msg}")

    def _load_video(self, video_id: str) -> None:
        """Size and frame numbers of a video: the dataset's frames when known, else its layers'."""
        if video_id in self.known_frames:
            known = np.fromiter((int(f) for f in self.known_frames[video_id]), np.int64)
        else:
            known = np.zeros(0, np.int64)
            for layer in self.st.layers(video_id):
                known = np.union1d(known, self.st.area_bbox(video_id, layer)[0])
        self._frames[video_id] = np.unique(known)
        self._frame_sets[video_id] = set(self._frames[video_id].tolist())
        self._sizes[video_id] = self.st.size(video_id)

    def images(self, entries: object) -> dict[int, FrameParts]:
        if not isinstance(entries, list):
            raise self.fail("'images' must be a list")
        out: dict[int, FrameParts] = {}
        seen: dict[tuple[str, int], str] = {}
        for k, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise self.fail(f"images[{k}] is not an object")
            name = entry.get("file_name")
            if not isinstance(name, str):
                raise self.fail(f"images[{k}] has no file_name string")
            image_id = entry.get("id")
            if not _is_int(image_id):
                raise self.fail("image id is missing or not an integer", file_name=name)
            if image_id in out:
                raise self.fail(
                    f"duplicate image id {image_id} (also in {out[image_id].file_name!r})", file_name=name
                )
            img = self._locate(entry, name)
            key = (img.video_id, img.frame)
            if key in seen:
                raise self.fail(f"the same frame as image {seen[key]!r}", img)
            seen[key] = name
            out[image_id] = img
        return out

    def _locate(self, entry: Mapping[str, Any], name: str) -> FrameParts:
        vid, frame = entry.get("video_id"), entry.get("frame")
        found = self.index.lookup(name)
        if isinstance(vid, str) and _is_int(frame):
            if vid not in self.videos:
                raise self.fail(f"video {vid!r} is not in the store (or not selected)", file_name=name)
            if found is not None and found != (vid, frame):
                raise self.fail(
                    f"file_name names video {found[0]!r} frame {found[1]} but the image's fields say "
                    f"video {vid!r} frame {frame}; fix one of them",
                    file_name=name,
                )
        else:
            if found is None:
                raise self.fail(
                    "file name matches no video of the store (check --file-name-pattern)", file_name=name
                )
            vid, frame = found
        h, w = entry.get("height"), entry.get("width")
        img = FrameParts(name, vid, int(frame), h, w)
        if not (_is_int(h) and _is_int(w)):
            raise self.fail("image height/width missing or not integers", img)
        if vid not in self._sizes:
            self._load_video(vid)
        size = self._sizes[vid]
        if (h, w) != size:
            raise self.fail(f"image size {h}x{w} does not match the video's {size[0]}x{size[1]}", img)
        if img.frame not in self._frame_sets[vid]:
            known = self._frames[vid]
            span = f"{known[0]}..{known[-1]}" if len(known) else "none known"
            raise self.fail(f"frame {img.frame} is not a frame of the video (its frames: {span})", img)
        return img

    def athlete_categories(self, entries: object) -> set[int] | None:
        """Category ids that count as the athlete (None: every category)."""
        if entries is None:
            return None
        ok = isinstance(entries, list) and all(isinstance(c, dict) and _is_int(c.get("id")) for c in entries)
        if not ok:
            raise self.fail("'categories' must be a list of objects with integer ids")
        if len(entries) == 1:
            return {entries[0].get("id")}
        named = {c.get("id") for c in entries if c.get("name") == CATEGORY["name"]}
        if not named:
            raise self.fail(f"several categories and none is named {CATEGORY['name']!r}")
        return named

    def annotations(
        self, entries: object, images: dict[int, FrameParts], categories: set[int] | None
    ) -> None:
        if not isinstance(entries, list):
            raise self.fail("'annotations' must be a list")
        for k, ann in enumerate(entries):
            if not isinstance(ann, dict):
                raise self.fail(f"annotations[{k}] is not an object")
            image_id = ann.get("image_id")
            if not _is_int(image_id) or image_id not in images:
                raise self.fail(f"annotation {ann.get('id')!r} refers to unknown image_id {image_id!r}")
            img = images[image_id]
            if categories is not None and ann.get("category_id") not in categories:
                self.ignored += 1
                continue
            try:
                mask = self._mask(ann.get("segmentation"), img)
                object_id = _object_id(ann)
            except (RLEError, PolygonError, ValueError) as exc:
                raise self.fail(f"annotation {ann.get('id')!r}: {exc}", img) from None
            if len(img.parts) >= 2**15 - 1:
                raise self.fail("more than 32767 objects on one frame", img)
            img.parts.append((object_id, mask))

    def _mask(self, seg: object, img: FrameParts) -> RLE:
        if isinstance(seg, dict):
            mask = rle.check(seg)
            if mask["size"] != [img.height, img.width]:
                raise ValueError(f"RLE size {mask['size']} does not match the image {img.height}x{img.width}")
            return mask
        if not seg or seg == [[]]:
            raise ValueError("no segmentation (a box is not a mask)")
        return polygons_to_rle(seg, img.height, img.width, self.polygon_mode)


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


def plan_import(
    data: Mapping[str, Any],
    st: MaskStore,
    source: str,
    file_name_pattern: str | None = None,
    videos: Sequence[str] | None = None,
    known_frames: Mapping[str, Iterable[int]] | None = None,
    polygon_mode: str = "auto",
    frame_paths: Mapping[str, Mapping[int, str]] | None = None,
) -> tuple[dict[str, list[FrameParts]], int]:
    """Validate a COCO dict against a store: per-video frames with their parts, and the number of
    annotations of other categories (ignored).

    Raises CocoError naming the file, image, video and frame at fault; reads the store only.
    A frame must be one of its video's frames: ``known_frames``, else the frames of the video in
    ``frame_paths`` (a dataset's), else the union of the video's stored layers. ``polygon_mode``
    says where polygon vertices sit (see ``hm_annotate.io.polygons``). An image without
    annotations is an athlete-free frame.
    """
    stored = st.videos()
    for v in videos or ():
        if v not in stored:
            raise CocoError(f"{st.path}: no video {v!r}")
    candidates = list(videos) if videos is not None else stored
    names = FrameNames(video_patterns(st, candidates, file_name_pattern), frame_paths)
    known = {v: list(fp) for v, fp in names.paths.items()} | dict(known_frames or {})
    parser = _Parser(st, source, names, known, polygon_mode)
    images = parser.images(data.get("images"))
    parser.annotations(data.get("annotations", []), images, parser.athlete_categories(data.get("categories")))
    _drop_empty_parts(list(images.values()))
    per_video: dict[str, list[FrameParts]] = {}
    for img in images.values():
        per_video.setdefault(img.video_id, []).append(img)
    return per_video, parser.ignored


def _drop_empty_parts(images: list[FrameParts]) -> None:
    """An empty mask is no athlete (older exports wrote them): drop such parts, areas in one batch."""
    areas = iter(rle.area([m for img in images for _, m in img.parts]).tolist())
    for img in images:
        img.parts = [p for p in img.parts if next(areas)]


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
    dry_run: bool = False,
    changed_only: bool = False,
) -> ImportSummary:
    """Write planned frames into ``summary.layer`` in one transaction (unless ``dry_run``) and
    fill the summary: frames added/changed/unchanged, union and per-object IoU, id matching."""
    ious: list[float] = []
    object_ious: list[float] = []
    writes: dict[str, LayerData] = {}
    for video_id, frames in plan.items():
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


def import_coco(
    coco_path: str | os.PathLike,
    store_path: str | os.PathLike,
    layer: str = "corrected",
    dry_run: bool = False,
    annotator: str | None = None,
    file_name_pattern: str | None = None,
    videos: Sequence[str] | None = None,
    known_frames: Mapping[str, Iterable[int]] | None = None,
    changed_only: bool = False,
    polygon_mode: str = "auto",
    frame_paths: Mapping[str, Mapping[int, str]] | None = None,
    file_format: str = "coco",
) -> ImportSummary:
    """Import a COCO file into a store layer, all or nothing; other frames stay as they were.

    Every frame of the file is written (a frame a person reviewed is verified even when unchanged)
    unless ``changed_only``. Provenance records the source file, time and annotator (default: the
    file's ``info.contributor``, else the login name). Objects without an ``object_id`` attribute
    take the ids of the current objects they overlap best (see ``hm_annotate.io.identity``).
    ``file_format`` "youtube-vis" reads a YouTube-VIS file instead (``hm_annotate.io.ytvis``).
    """
    coco_path = Path(coco_path)
    data = load_coco(coco_path)
    params: dict[str, Any] = {"format": file_format}
    if file_format == "youtube-vis":
        from hm_annotate.io.ytvis import as_coco

        data = as_coco(data, str(coco_path))
    else:
        params["polygons"] = polygon_mode
    summary = ImportSummary(source=str(coco_path), layer=layer)
    who = annotator_name(annotator, data.get("info"))
    if not isinstance(who, str) or len(who) > MAX_ANNOTATOR:
        raise CocoError(f"{coco_path}: info.contributor is not a name of at most {MAX_ANNOTATOR} characters")
    tool = "hm-annotate import-ytvis" if file_format == "youtube-vis" else "hm-annotate import-coco"
    with MaskStore.open(store_path, "r" if dry_run else "a") as st:
        plan, summary.ignored_annotations = plan_import(
            data, st, str(coco_path), file_name_pattern, videos, known_frames, polygon_mode, frame_paths
        )
        record = import_provenance(tool, coco_path, params, who)
        return apply_import(st, plan, summary, record, dry_run, changed_only)
