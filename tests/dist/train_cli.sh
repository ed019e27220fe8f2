#!/bin/sh
# `mpirun -np N cnnc train`: data-parallel training from the command line.
#   - process 0 alone prints and writes the log and the checkpoint;
#   - the same global batches on 2 and on 4 processes give the same training (LeNet-5
#     has no BatchNorm, so DDP's averaged gradient is the global batch's): equal losses;
#   - a checkpoint written by 2 processes resumes in 1 process and in 4.
# Usage: train_cli.sh CNNC MPIRUN [MPIRUN ARGS...]   (the launcher without -np)
set -eu
CNNC=$1
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
opts="--arch lenet --train-size 256 --test-size 64 --epochs 2 --batch-size 32 --seed 3"
"$@" -np 2 "$CNNC" train $opts --log np2.csv >np2.txt
"$@" -np 4 "$CNNC" train $opts --log np4.csv >np4.txt
[ "$(grep -c '^cnnc train:' np2.txt)" = 1 ] || { echo "process 0 alone should print"; cat np2.txt; exit 1; }
grep -q 'data-parallel over 4 processes' np4.txt || { cat np4.txt; exit 1; }
# the last epoch's train and test loss, 2 vs 4 processes (relative 1e-4)
tail -n 1 np2.csv | cut -d, -f4,6 >a.txt
tail -n 1 np4.csv | cut -d, -f4,6 >b.txt
awk -F, 'NR == FNR { a = $1; t = $2; next }
         { d1 = a - $1; d2 = t - $2; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2;
           if (d1 > 1e-4 * a || d2 > 1e-4 * t) { print "2 vs 4 processes differ: " a " " t " / " $1 " " $2; exit 1 } }' a.txt b.txt
# stopped half way on 2 processes, resumed on 1 and on 4
"$@" -np 2 "$CNNC" train $opts --max-steps 12 --checkpoint ck.safetensors >stop.txt
grep -q 'stopped at step 12' stop.txt || { cat stop.txt; exit 1; }
"$CNNC" train $opts --resume ck.safetensors >one.txt
grep -q 'resumed from ck.safetensors at epoch 2, batch 4 (step 12)' one.txt || { cat one.txt; exit 1; }
"$@" -np 4 "$CNNC" train $opts --resume ck.safetensors >four.txt
grep -q 'resumed from ck.safetensors' four.txt || { cat four.txt; exit 1; }
echo "train_cli: 2 and 4 processes agree ($(cat a.txt) / $(cat b.txt)); a 2-process checkpoint resumes on 1 and 4"
