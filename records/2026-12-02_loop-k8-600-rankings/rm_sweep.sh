#!/usr/bin/env bash
# RM recipes on this run's round-1 rankings (same init, data and validation split as the loop's RM):
#   bash rm_sweep.sh RUN_DIR OUT_DIR      (RUN_DIR: runs/loop-a after `instructrl run --config loop-config.yaml`)
set -euo pipefail
R=$1; O=$2; mkdir -p "$O"
for spec in "1e-3 1 16" "1e-3 3 8" "3e-3 2 8" "3e-4 3 8"; do
  set -- $spec
  out=$O/lr$1-ep$2-b$3
  rm -rf "$out"
  s=$(date +%s)
  instructrl rm --config "$R/round-1/rm/config.yaml" output_dir="$out" optim.lr=$1 epochs=$2 batch_size=$3 micro_batch_size=$3 tensorboard=false > "$out.log" 2>&1
  echo "lr $1 epochs $2 batch $3: $(( $(date +%s) - s )) s, $(python3 -c "import json;d=json.load(open('$out/eval.json'));print('valid accuracy', round(d['rm/valid_accuracy'],3), 'margin', round(d['rm/valid_margin'],3))")"
done
