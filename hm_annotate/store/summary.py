"""``summarise``: what a store holds per layer, from its index arrays alone (no mask decoded)."""

from __future__ import annotations

from typing import Any

import numpy as np

from hm_annotate.store.codec import FORMAT, SCHEMA_VERSION
from hm_annotate.store.layer import LAYERS, VIEWS
from hm_annotate.store.maskstore import MaskStore


def summarise(store: MaskStore) -> dict[str, Any]:
    """Counts per layer (videos, frames, masks, empty frames) and bytes, without decoding masks."""
    layers = {k: {"videos": 0, "frames": 0, "masks": 0, "empty_frames": 0} for k in VIEWS}
    videos = store.videos()
    for vid in videos:
        counts = {k: store.object_counts(vid, k) for k in store.layers(vid)}
        if counts:
            frames = np.unique(np.concatenate([f for f, _ in counts.values()]))
            n_obj = np.zeros(len(frames), np.int64)
            for k in LAYERS:  # corrected after pseudo: it wins where it has the frame
                if k in counts:
                    n_obj[np.searchsorted(frames, counts[k][0])] = counts[k][1]
            counts["curated"] = (frames, n_obj)
        for k, (frames, n_obj) in counts.items():
            layers[k]["videos"] += 1
            layers[k]["frames"] += len(frames)
            layers[k]["masks"] += int(n_obj.sum())
            layers[k]["empty_frames"] += int((n_obj == 0).sum())
    return {
        "path": str(store.path),
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "bytes": store.stored_bytes(),
        "journal_parts": store.journal_parts(),
        "videos": len(videos),
        "layers": layers,
    }
