#!/bin/bash
# round-1 PPO-ptx on the base's own samples (data.ptx_text=self), on the smolS0 run's artifacts
# (data, SFT, round-1 rankings and RM); the run's own round 1 used the generated corpus
set -e
S=/work/bench/smolS0/smollm2; R=/work/bench/selftext/run/smollm2
rm -rf /work/bench/selftext/run && mkdir -p $R/round-1/eval
ln -s $S/data $R/data; ln -s $S/round-0 $R/round-0
for x in data rm-data rm; do ln -s $S/round-1/$x $R/round-1/$x; done
cp $S/round-1/eval/responses-sft* $R/round-1/eval/
cd /work/main
export OMP_NUM_THREADS=2
A="--preset smollm2 runs_dir=/work/bench/selftext/run progress=false threads=2 seed=0 rounds=1 data.ptx_text=self data.ptx_docs=512 data.heldout_docs=64"
for st in ptx-text round-1/ppo round-1/eval; do
  .venv/bin/instructrl run $A --only $st
done
