#!/bin/bash
# evaluation at T=1 (one sample per prompt,) of an existing loop run, in a copy
# usage: t1eval.sh SRC_ROOT DEST_RUNS_DIR PRESET NAME SEED STAGES...
set -e
SRC=$1; DEST=$2; PRESET=$3; NAME=$4; SEED=$5; shift 5
rm -rf $DEST && mkdir -p $DEST
cp -al $SRC $DEST/$NAME
R=$DEST/$NAME
for f in $(find $R -maxdepth 1 -type f); do cp --remove-destination $SRC/$(basename $f) $f; done
for e in $R/round-*/eval; do rm -rf $e; cp -a $SRC/${e#$R/} $e; done
cd /work/wt
for st in "$@"; do
  OMP_NUM_THREADS=2 PYTHONPATH=/work/wt /work/main/.venv/bin/instructrl run --preset $PRESET runs_dir=$DEST progress=false threads=2 seed=$SEED --only $st
done
