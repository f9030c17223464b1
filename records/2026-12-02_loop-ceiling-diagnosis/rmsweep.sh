#!/bin/bash
# usage: ROUND=1|2 rmsweep.sh tag "overrides" [tag "overrides" ...]
# retrains the loop run's round-$ROUND RM (its own config) with the overrides, no held-out
# split, and scores it against gold (rm_gold.py); lines go to /tmp/rmsweep.txt
HERE=$(cd "$(dirname "$0")" && pwd); R=${RUN:-/tmp/loopA/default}; ROUND=${ROUND:-2}
cd "$HERE/../.."
while [ $# -gt 0 ]; do tag=$1; ov=$2; shift 2
  OMP_NUM_THREADS=2 .venv/bin/instructrl rm --config $R/round-$ROUND/rm/config.yaml output_dir=/tmp/rmx/$tag resume=false tensorboard=false data.valid_fraction=0.0 $ov > /tmp/rmx_$tag.log 2>&1
  echo "$tag [$ov] $(OMP_NUM_THREADS=2 .venv/bin/python "$HERE/rm_gold.py" /tmp/rmx/$tag/final 2>&1 | grep gold-pair | sed 's#.*: ##')" >> /tmp/rmsweep.txt
done
