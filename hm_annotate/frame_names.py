"""The one rule that turns an image file name into a frame number, and the image types read.

A frame number is the last run of digits in the file name's stem: ``00489.jpg`` -> 489,
``img_00001.jpg`` -> 1, ``cam2_00489.jpg`` -> 489, ``00489_mask.png`` -> 489. A stem without
digits has no number (None). Every reader of frame or mask folders (dataset adapters, mask-tree
import, COCO file names, render) uses this rule and this extension list.
"""

from __future__ import annotations

import os
import re

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
_LAST_NUMBER = re.compile(r"(\d+)\D*$")


def is_image(name: str) -> bool:
    """Whether a file name has one of the image extensions read (any case), and is not hidden."""
    stem, ext = os.path.splitext(os.path.basename(name))
    return ext.lower() in IMAGE_EXTENSIONS and bool(stem) and not stem.startswith(".")


def frame_number(name: str) -> int | None:
    """The frame number in a file name (a path's last component), or None without digits."""
    stem = os.path.splitext(os.path.basename(name))[0]
    match = _LAST_NUMBER.search(stem)
    return int(match.group(1)) if match else None
