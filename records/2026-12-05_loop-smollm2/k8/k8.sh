#!/bin/bash
cd /work/main
for s in 0 1 2; do
  OMP_NUM_THREADS=2 .venv/bin/instructrl run --preset default --config /tmp/px/k8.yaml runs_dir=/tmp/k8s$s seed=$s progress=false threads=2 > /tmp/px/k8s$s.log 2>&1
done
echo DONE > /tmp/px/k8.done
