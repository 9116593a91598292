# Shared by the examples' smoke tests (sourced, after BIN is set): a scratch directory, a tiny
# IDX data set written with printf (no Python, no real data) and the check helpers.
# 2x2 images, two classes (bright left column vs bright right column).
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nnp-smoke.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
fails=0

byte() { printf "\\$(printf '%03o' "$1")"; }
be32() { byte $(($1 >> 24 & 255)); byte $(($1 >> 16 & 255)); byte $(($1 >> 8 & 255)); byte $(($1 & 255)); }

# write_set PREFIX N: N examples, label i%2; pixel values vary with i so no two are equal.
write_set() {
    n=$2
    { byte 0; byte 0; byte 8; byte 3; be32 "$n"; be32 2; be32 2
      i=0
      while [ "$i" -lt "$n" ]; do
          a=$((150 + i * 7 % 100)); z=$((i * 3 % 40))
          if [ $((i % 2)) -eq 0 ]; then byte $a; byte $z; byte $a; byte $z
          else byte $z; byte $a; byte $z; byte $a; fi
          i=$((i + 1))
      done; } > "$1-images.idx"
    { byte 0; byte 0; byte 8; byte 1; be32 "$n"
      i=0
      while [ "$i" -lt "$n" ]; do byte $((i % 2)); i=$((i + 1)); done; } > "$1-labels.idx"
}
write_set "$TMP/train" 60
write_set "$TMP/test" 20
TRAIN="--train-images $TMP/train-images.idx --train-labels $TMP/train-labels.idx"
DATA="$TRAIN --test-images $TMP/test-images.idx --test-labels $TMP/test-labels.idx"

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect STATUS DESCRIPTION ARGS...: runs the program, checks its exit status.
expect() {
    want=$1; what=$2; shift 2
    "$BIN" "$@" > "$TMP/out" 2> "$TMP/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$what: exit status $got, expected $want"; cat "$TMP/out" "$TMP/err"
    else
        echo "ok: $what"
    fi
}
