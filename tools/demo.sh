#!/usr/bin/env bash
# make demo: the whole workflow on a small synthetic FineDiving-format dataset, CPU only.
set -euo pipefail
cd "$(dirname "$0")/.."
HM=.venv/bin/hm-annotate
HB=.venv/bin/hm-baseline
OUT=demo_out
rm -rf "$OUT"
mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*"; }

step "1. synthetic FineDiving-format dataset: frames, annotation pickles, exact masks (gt_masks.h5)"
$HM synth "$OUT/data" --videos "${DEMO_VIDEOS:-24}" --seed 7 --frames 40 --hm-jpg
$HM list-videos --dataset-format finediving --data-root "$OUT/data"
$HM info "$OUT/data/gt_masks.h5"
$HM validate "$OUT/data/gt_masks.h5"

step "2. FineDiving-HM gray JPG masks -> store -> JPG again (round trip)"
$HM import-masks "$OUT/data/diving_mask_annotation_gray" --format finediving-hm --out "$OUT/hm_import.h5" \
    --frames-root "$OUT/data/FINADiving_MTL_256s"
$HM export-masks "$OUT/hm_import.h5" --format finediving-hm --out "$OUT/hm_export"
$HM validate "$OUT/hm_import.h5"

step "3. pseudo masks (PM): one box per athlete on the first frame, then the CPU default (pose prior, GrabCut where it sees nobody, mask-flow tracker, runaway guard)"
.venv/bin/python tools/first_frame_prompts.py "$OUT/data/gt_masks.h5" "$OUT/prompts.csv"
$HM pseudo-label --dataset-format finediving --data-root "$OUT/data" --out "$OUT/pm.h5" --pipeline synthetic-demo \
    --prompts "$OUT/prompts.csv"

step "4. PM against the exact masks: DAVIS J, F, J&F"
$HM evaluate "$OUT/pm.h5" --reference "$OUT/data/gt_masks.h5"

step "5. statistics (Fig. 4 style) with plots"
$HM stats "$OUT/pm.h5" --layer pseudo --dataset-format finediving --data-root "$OUT/data" --plots "$OUT/plots"

step "6. review queue, and the worst frames exported as COCO for correction (CVAT, any COCO tool)"
$HM review "$OUT/pm.h5" --top 20 --out "$OUT/queue.csv"
$HM export-coco "$OUT/pm.h5" --layer pseudo --out "$OUT/pm_queue_coco.json" --frames-from "$OUT/queue.csv"
$HM export-coco "$OUT/pm.h5" --layer pseudo --out "$OUT/pm_coco.json"

step "7. Uni-FineParser baseline: GTM vs PM vs no masks. A SMOKE RUN (1 seed, a few epochs, a few videos): it shows the commands work; its figures are noise and no order is judged (benchmarks/table14_bench.py is the real comparison)"
$HB compare --config baseline_model/configs/synthetic_cpu.yaml --dataset-format finediving \
    --data-root "$OUT/data" --gtm "$OUT/data/gt_masks.h5" --pm "$OUT/pm.h5" \
    --seeds 1 --epochs "${DEMO_EPOCHS:-3}" --threads 1 --runs "$OUT/compare-runs" --out "$OUT/compare.md"

printf '\nEverything is in %s/.\n' "$OUT"
