#!/bin/bash
# usage: ppos.sh tag rm json ...
cd /work/main
while [ $# -gt 0 ]; do tag=$1; rm=$2; js=$3; shift 3
  OMP_NUM_THREADS=2 .venv/bin/python /tmp/rmscale/ppo.py $tag $rm "$js" > /tmp/rmscale/ppolog_$tag.txt 2>&1
  echo "$(grep 'ppo seconds' /tmp/rmscale/ppolog_$tag.txt) $(grep RESULT /tmp/rmscale/ppolog_$tag.txt)" >> /tmp/rmscale/ppo_results.txt
done
