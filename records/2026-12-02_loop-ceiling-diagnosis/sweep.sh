#!/bin/bash
# usage: sweep.sh tag json [tag json ...]
HERE=$(cd "$(dirname "$0")" && pwd); cd "$HERE/../.."
while [ $# -gt 0 ]; do
  tag=$1; js=$2; shift 2
  rm -rf /tmp/g_$tag && mkdir -p /tmp/g_$tag && cp -r /tmp/loopG/default /tmp/g_$tag/default
  OMP_NUM_THREADS=2 .venv/bin/python "$HERE/gold_ppo.py" /tmp/g_$tag/default "$js" > /tmp/g_$tag.log 2>&1
  .venv/bin/python "$HERE/paired.py" /tmp/g_$tag/default >> /tmp/g_$tag.log
  echo "$tag $js $(grep -A3 '"win"' /tmp/g_$tag.log | grep win_rate) $(grep kl_to_sft /tmp/g_$tag.log) $(tail -1 /tmp/g_$tag.log)" >> /tmp/sweep.txt
done
