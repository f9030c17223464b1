#!/bin/bash
cd /work/main
run() { tag=$1; shift; OMP_NUM_THREADS=2 timeout 1500 .venv/bin/instructrl run --preset default runs_dir=/tmp/$tag progress=false threads=2 "$@" > /tmp/$tag.log 2>&1; }
run loopL ppo_init=last
run loopL1 ppo_init=last seed=1
run loopL2 ppo_init=last seed=2
