#!/usr/bin/env bash
# Build the wheel, install it (not editable) into a scratch folder and check that it carries
# schemas/, pipelines/ and the pose models and that the console entry point runs from it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m build --wheel --outdir "$tmp/dist" . > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
.venv/bin/pip install --quiet --no-deps --target "$tmp/site" "$tmp"/dist/*.whl
cd "$tmp"
PYTHONPATH="$tmp/site" "$OLDPWD/.venv/bin/python" - <<'PY'
import os, sys
import hm_annotate
from hm_annotate.resources import resource_path
assert hm_annotate.__file__.startswith(os.environ["PYTHONPATH"]), hm_annotate.__file__
# the CPU default pipeline's pose prior needs both BlazePose models in the wheel
for rel in ("schemas/mask-store.schema.json", "schemas/mask-store.md",
            "models/pose_detection.tflite", "models/pose_landmark_full.tflite"):
    assert resource_path(rel).is_file(), rel
pipelines = sorted(p.name for p in resource_path("pipelines").iterdir())
schemas = sorted(p.name for p in resource_path("schemas").iterdir())
from hm_annotate.cli import main
sys.argv = ["hm-annotate", "--help"]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(f"wheel ok: installed at {os.path.dirname(hm_annotate.__file__)}; schemas {schemas}; pipelines {pipelines}")
PY
