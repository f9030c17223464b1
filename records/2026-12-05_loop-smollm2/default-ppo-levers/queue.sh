#!/bin/bash
# usage: queue.sh  (runs the sweep sequentially; results appended to /tmp/px/results.txt)
cd /work/main
run() { tag=$1; src=$2; js=$3
  OMP_NUM_THREADS=2 .venv/bin/python /tmp/px/ppo2.py $tag $src "$js" > /tmp/px/log_$tag.txt 2>&1
  echo "$(grep 'ppo seconds' /tmp/px/log_$tag.txt) $(grep RESULT /tmp/px/log_$tag.txt)" >> /tmp/px/results.txt
}
run base0 /tmp/loopN '{}'
run ptx01_0 /tmp/loopN '{"ptx": {"coef": 0.1}}'
run ep2x_0 /tmp/loopN '{"episodes": 3072}'
run lr2_0 /tmp/loopN '{"optim": {"lr": 2e-4}}'
run epo2_0 /tmp/loopN '{"ppo": {"epochs": 2}}'
for s in 1 2; do
  run ptx01_$s /tmp/loopN$s '{"ptx": {"coef": 0.1}}'
  run ep2x_$s /tmp/loopN$s '{"episodes": 3072}'
  run lr2_$s /tmp/loopN$s '{"optim": {"lr": 2e-4}}'
  run epo2_$s /tmp/loopN$s '{"ppo": {"epochs": 2}}'
done
echo DONE >> /tmp/px/results.txt
