"""COCO instance segmentation: export a store layer for correction, import the corrections back.

``names``: frame file names both ways (patterns, a dataset's frame paths). ``export``: a layer
as COCO images and RLE annotations (``export_coco``, ``coco_results``, ``write_coco``).
``parse``: a COCO file read and validated against a store (``load_coco``, ``plan_import``).
``importer``: the validated masks written into a layer in one transaction (``import_coco``;
``import_parsed`` for other file formats, as ``hm_annotate.io.ytvis`` uses it).
"""

from __future__ import annotations

from hm_annotate.io.coco.export import (
    CATEGORY,
    coco_results,
    export_coco,
    export_document,
    export_info,
    image_id_of,
    read_frame_list,
    stable_id,
    write_coco,
)
from hm_annotate.io.coco.importer import (
    MAX_ANNOTATOR,
    ImportSummary,
    annotator_name,
    apply_import,
    build_layer,
    import_coco,
    import_parsed,
    import_provenance,
)
from hm_annotate.io.coco.names import (
    DEFAULT_FILE_NAME_PATTERN,
    PATTERN_METADATA_KEY,
    CocoError,
    FileNamePattern,
    FrameNameIndex,
    FrameNames,
    dataset_frame_paths,
    video_patterns,
)
from hm_annotate.io.coco.parse import FrameParts, load_coco, plan_import

__all__ = [
    "CATEGORY", "DEFAULT_FILE_NAME_PATTERN", "MAX_ANNOTATOR", "PATTERN_METADATA_KEY", "CocoError",
    "FileNamePattern", "FrameNameIndex", "FrameNames", "FrameParts", "ImportSummary", "annotator_name",
    "apply_import", "build_layer", "coco_results", "dataset_frame_paths", "export_coco", "export_document",
    "export_info",
    "image_id_of", "import_coco", "import_parsed", "import_provenance", "load_coco", "plan_import",
    "read_frame_list", "stable_id", "video_patterns", "write_coco",
]
