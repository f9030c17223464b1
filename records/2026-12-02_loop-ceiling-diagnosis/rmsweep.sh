cd /work/main
R=/tmp/loopA/default
while [ $# -gt 0 ]; do tag=$1; ov=$2; shift 2
  OMP_NUM_THREADS=2 .venv/bin/instructrl rm --config $R/round-1/rm/config.yaml output_dir=/tmp/rmx/$tag resume=false tensorboard=false data.valid_fraction=0.0 $ov > /tmp/rmx_$tag.log 2>&1
  echo "$tag [$ov] $(OMP_NUM_THREADS=2 .venv/bin/python /tmp/exp/rm_gold.py /tmp/rmx/$tag/final 2>&1 | grep gold-pair | sed 's#.*: ##')" >> /tmp/rmsweep.txt
done
