#!/bin/bash
# round-1 plain-PPO ablation on the smol4 run's artifacts (data, SFT, round-1 rankings and RM)
set -e
S=/tmp/smol4/smollm2; R=/tmp/smol5/smollm2
rm -rf $R && mkdir -p $R/round-1/eval
cp $S/config.yaml $R/config.yaml
ln -s $S/data $R/data; ln -s $S/round-0 $R/round-0
for x in data rm-data rm ppo; do ln -s $S/round-1/$x $R/round-1/$x; done
cp $S/round-1/eval/responses-*.jsonl $R/round-1/eval/
cd /work/main && source .venv/bin/activate
export OMP_NUM_THREADS=2
instructrl run --preset smollm2 runs_dir=/tmp/smol5 progress=false threads=2 rounds=1 ptx_ablation=true --only round-1/ppo-noptx
instructrl run --preset smollm2 runs_dir=/tmp/smol5 progress=false threads=2 rounds=1 ptx_ablation=true --only round-1/eval
