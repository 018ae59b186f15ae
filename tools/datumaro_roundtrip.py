"""Check an ``export-coco`` file against Datumaro (what CVAT's "COCO 1.0" import runs on).

Run it with a throwaway venv holding pip ``datumaro`` (never a project dependency)::

    hm-annotate export-coco pm.h5 --layer pseudo --out pm.json
    python3 -m venv /tmp/dm && /tmp/dm/bin/pip install datumaro
    /tmp/dm/bin/python tools/datumaro_roundtrip.py pm.json WORKDIR
    hm-annotate import-coco WORKDIR/out/annotations/instances_default.json --store COPY_OF_pm.h5 --dry-run

It imports the file as ``coco_instances``, checks every mask pixel-exact against the file (and
counts empty masks and kept attributes), then re-exports the dataset in Datumaro's mask mode
(``segmentation_mode="mask"``) to ``WORKDIR/out`` for ``import-coco`` to bring back.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np


def main() -> None:
    import datumaro as dm
    from pycocotools import mask as mask_utils

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("coco_file", type=Path)
    ap.add_argument("workdir", type=Path)
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    (args.workdir / "in" / "annotations").mkdir(parents=True)
    (args.workdir / "in" / "images" / "default").mkdir(parents=True)  # Datumaro wants the folder
    shutil.copy(args.coco_file, args.workdir / "in" / "annotations" / "instances_default.json")
    ours = json.loads(args.coco_file.read_text())
    by_name = {Path(i["file_name"]).with_suffix("").as_posix(): i for i in ours["images"]}
    by_image: dict[int, dict[int, dict]] = {}
    for a in ours["annotations"]:
        by_image.setdefault(a["image_id"], {})[a["attributes"]["object_id"]] = a
    ds = dm.Dataset.import_from(str(args.workdir / "in"), "coco_instances")
    items = masks = empty = exact = attributes = 0
    for item in ds:
        items += 1
        want = by_image.get(by_name[item.id]["id"], {})
        got = [a for a in item.annotations if a.type == dm.AnnotationType.mask]
        if len(got) != len(want):
            raise SystemExit(f"{item.id}: {len(got)} masks in Datumaro, {len(want)} in the file")
        for a in got:
            masks += 1
            m = np.asarray(a.image).astype(bool)
            empty += int(not m.any())
            ann = want[int(a.attributes["object_id"])]
            seg = ann["segmentation"]
            ref = mask_utils.decode({"size": seg["size"], "counts": seg["counts"].encode()}).astype(bool)
            exact += int(np.array_equal(m, ref))
            attributes += int(all(a.attributes.get(k) == v for k, v in ann["attributes"].items()))
    print(
        f"datumaro {dm.__version__}: {items} items ({len(ours['images'])} images in the file), "
        f"{masks} masks ({len(ours['annotations'])} annotations), {empty} empty, {exact} pixel-exact, "
        f"{attributes} with all their attributes"
    )
    ds.export(str(args.workdir / "out"), "coco_instances", save_media=False, segmentation_mode="mask")
    print(f"re-exported in mask mode to {args.workdir / 'out' / 'annotations'}")


if __name__ == "__main__":
    main()
