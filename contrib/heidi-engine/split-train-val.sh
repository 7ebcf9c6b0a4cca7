#!/bin/sh
# split-train-val.sh INPUT TRAIN VAL RATIO [-- COMMAND [ARG...]]
#
# The train/validation split the original engine's scripts/loop.sh made between validation and training
# (its split_train_val): the first lines of INPUT go to TRAIN, the last floor(lines * RATIO) (at least 1 when
# there are 2 or more lines) to VAL; with fewer than 2 lines everything goes to TRAIN and VAL is empty.
# With "-- COMMAND ...", it then replaces itself with COMMAND (the trainer), so heidid supervises the trainer
# directly: its exit status, signals and output are the stage's. Exit 1 when INPUT is missing or unreadable,
# 2 on a usage error.
set -eu

usage() {
    echo "usage: split-train-val.sh INPUT TRAIN VAL RATIO [-- COMMAND [ARG...]]" >&2
    exit 2
}

[ $# -ge 4 ] || usage
input=$1 train=$2 val=$3 ratio=$4
shift 4
case $ratio in
    '' | *[!0-9.]* | *.*.*) echo "split-train-val.sh: RATIO must be a number between 0 and 1, got '$ratio'" >&2; exit 2 ;;
esac
if [ ! -r "$input" ]; then
    echo "[ERROR] split-train-val.sh: cannot read $input (did the validate stage write it?)" >&2
    exit 1
fi

total=$(wc -l < "$input" | tr -d ' ')
if [ "$total" -lt 2 ]; then
    val_count=0
else
    # loop.sh: bc's "(total * ratio) / 1", which truncates; the epsilon keeps 100 * 0.29 at 29 in floating point.
    val_count=$(awk -v t="$total" -v r="$ratio" 'BEGIN { printf "%d", t * r + 1e-9 }')
    [ "$val_count" -ge 1 ] || val_count=1
fi
train_count=$((total - val_count))

mkdir -p "$(dirname "$train")" "$(dirname "$val")"
head -n "$train_count" "$input" > "$train"
if [ "$val_count" -gt 0 ]; then tail -n "$val_count" "$input" > "$val"; else : > "$val"; fi
echo "[INFO] Split complete: $train_count train, $val_count validation ($train, $val)" >&2

if [ $# -gt 0 ]; then
    [ "$1" = "--" ] || usage
    shift
    [ $# -gt 0 ] || usage
    exec "$@"
fi
