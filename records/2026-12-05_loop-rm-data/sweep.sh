#!/bin/bash
# usage: sweep.sh tag "overrides" ...
cd /work/main
while [ $# -gt 0 ]; do tag=$1; ov=$2; shift 2
  s=$(date +%s)
  OMP_NUM_THREADS=2 .venv/bin/instructrl rm --config /tmp/loopA/default/round-1/rm/config.yaml output_dir=/tmp/rmscale/rm/$tag resume=false tensorboard=false progress=false data.valid_fraction=0.0 $ov > /tmp/rmscale/log_$tag.txt 2>&1
  t=$(( $(date +%s) - s ))
  echo "$tag [$ov] ${t}s $(OMP_NUM_THREADS=2 .venv/bin/python /tmp/rmscale/gold.py /tmp/rmscale/rm/$tag/final 2>&1 | grep gold-pair | sed 's#.*: ##')" >> /tmp/rmscale/results.txt
done
