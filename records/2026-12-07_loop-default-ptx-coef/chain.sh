#!/usr/bin/env bash
# seeds 1 and 2 of the default preset at ptx coef 0.2 and 0 (full runs, one at a time)
cd /work/main
for c in 0.2 0.0; do for s in 1 2; do
  tag=c${c/./}-s$s
  OMP_NUM_THREADS=2 .venv/bin/instructrl run --preset default runs_dir=/work/bench/ptx/$tag progress=false threads=2 seed=$s ppo.ptx.coef=$c > /work/bench/ptx/$tag.log 2>&1
done; done
echo done > /work/bench/ptx/chain.done
