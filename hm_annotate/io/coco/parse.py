"""Reading a COCO file back: parse, validate against a store, and group the masks by frame.

Accepts what annotation tools write back: compressed or uncompressed RLE and polygons (several
rings per annotation; several annotations per image are several objects, or parts of one object
when they share an ``object_id`` attribute). Everything is validated before the store is opened
for writing; errors name the file, image, video and frame at fault.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hm_annotate import rle
from hm_annotate.io.coco.export import CATEGORY
from hm_annotate.io.coco.names import CocoError, FrameNames, video_patterns
from hm_annotate.io.polygons import PolygonError, polygons_to_rle
from hm_annotate.rle import RLE, RLEError
from hm_annotate.store import MaskStore


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
                    "file name matches no video of the store (check file_name_pattern)", file_name=name
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
        return polygons_to_rle(seg, img.height, img.width, mode=self.polygon_mode)


def plan_import(
    data: Mapping[str, Any],
    st: MaskStore,
    source: str,
    *,
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
