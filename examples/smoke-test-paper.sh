#!/bin/sh
# Smoke test of nnprobe-paper: bad input refused before any work, then the whole pipeline on
# the hidden tiny profile (seconds) on Fashion-MNIST, its report checked by
# check-paper-report.py (structure and internal consistency), a rerun served from the model
# cache with identical numbers, and --fresh retraining. Skipped (77) without the data set.
# Usage: smoke-test-paper.sh path/to/nnprobe-paper
set -u
BIN=${1:?usage: $0 path/to/nnprobe-paper}
HERE=$(dirname "$0")
FASHION=/usr/share/datasets/fashion-mnist
. "$HERE/smoke-lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

expect 0 "--help" --help
grep -q -- '--quick' "$TMP/out" || fail "--help does not list --quick"
expect 2 "unknown profile" --profile nonsense --out "$TMP/x"
[ ! -e "$TMP/x" ] || fail "--out created for a bad command line"
grep -q 'profile' "$TMP/err" || fail "no message naming the profile"
"$BIN" --data-dir "$TMP/missing" --out "$TMP/x" > "$TMP/out" 2> "$TMP/err"
rc=$?
[ "$rc" -eq 1 ] || [ "$rc" -eq 2 ] || fail "missing data dir: exit status $rc"
# the 2x2 images of smoke-lib.sh: wrong shape, refused before training
# shellcheck disable=SC2086
expect 2 "wrong image shape" $DATA --out "$TMP/x"
grep -q '1x28x28' "$TMP/err" || fail "shape message"
[ ! -e "$TMP/x/report.json" ] || fail "a report was written for refused input"

if [ ! -r "$FASHION/train-images-idx3-ubyte.gz" ]; then
    echo "skip: Fashion-MNIST not installed in $FASHION (Debian dataset-fashion-mnist)"
    [ "$fails" -eq 0 ] && exit 77
    exit 1
fi
expect 0 "tiny profile end to end" --profile tiny --out "$TMP/r1" --cache "$TMP/cache" --quiet
"$PY" "$HERE/check-paper-report.py" "$TMP/r1" || fail "report check"
"$PY" -c 'import json, sys; m = json.load(open(sys.argv[1]))["models"]; assert m["trained"] >= 10 and m["from_cache"] <= 1, m' \
    "$TMP/r1/report.json" || fail "first run should train the nets"
# the checker must catch a broken report: a transfer diagonal that is not the adversarial error
cp -r "$TMP/r1" "$TMP/bad"
"$PY" -c 'import json, sys; p = sys.argv[1]; r = json.load(open(p)); r["tables"]["table2"]["values"][0][0] = 0.5; json.dump(r, open(p, "w"))' \
    "$TMP/bad/report.json"
"$PY" "$HERE/check-paper-report.py" "$TMP/bad" > /dev/null && fail "the checker accepted a broken diagonal"

expect 0 "rerun from the cache" --profile tiny --out "$TMP/r2" --cache "$TMP/cache" --quiet
"$PY" -c 'import json, sys; a, b = (json.load(open(p)) for p in sys.argv[1:]); assert b["models"]["trained"] == 0, b["models"]; assert a["tables"] == b["tables"], "numbers differ"' \
    "$TMP/r1/report.json" "$TMP/r2/report.json" || fail "rerun: not from the cache or not identical"
expect 0 "--fresh" --profile tiny --out "$TMP/r2" --cache "$TMP/cache" --fresh --quiet
"$PY" -c 'import json, sys; assert json.load(open(sys.argv[1]))["models"]["from_cache"] == 0' \
    "$TMP/r2/report.json" || fail "--fresh used the cache"
# report.html in headless Chromium: the screenshot must not be blank (skipped without Chromium)
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROMIUM" ]; then
    HOME=$TMP timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size=1200,1600 --screenshot="$TMP/shot.png" "file://$TMP/r1/report.html" \
        > "$TMP/chromium.log" 2>&1 || { fail "chromium screenshot"; tail -5 "$TMP/chromium.log"; }
    "$PY" "$HERE/png-nonblank.py" "$TMP/shot.png" || fail "the screenshot of report.html is blank"
    [ -n "${NNP_KEEP_SCREENSHOT:-}" ] && cp "$TMP/shot.png" "$NNP_KEEP_SCREENSHOT"
    echo "ok: report.html screenshot in headless Chromium"
else
    echo "skip: report.html screenshot (chromium not installed)"
fi
[ "$fails" -eq 0 ] || exit 1
echo "all nnprobe-paper smoke checks passed"
