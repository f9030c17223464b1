#!/bin/bash
cd /work/main
while pgrep -f "instructrl run" >/dev/null; do sleep 5; done
run() { tag=$1; shift; OMP_NUM_THREADS=2 timeout 1500 .venv/bin/instructrl run --preset default runs_dir=/tmp/$tag progress=false threads=2 "$@" > /tmp/$tag.log 2>&1; }
run loopA1 seed=1
run loopN2 --config /tmp/rmscale/new.yaml seed=2
run loopA2 seed=2
run loopK0 --config /tmp/rmscale/kl01.yaml
