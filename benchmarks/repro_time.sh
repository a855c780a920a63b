#!/usr/bin/env bash
# Wall time of `make repro` from a fresh clone (venv + install + full pipeline), then of a
# no-op `dvc repro` (target < 5 s). Commit first: the clone sees only committed files.
#   bash benchmarks/repro_time.sh
set -euo pipefail
src=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$src" "$work/pdfqa"
cd "$work/pdfqa"
export DVC_SITE_CACHE_DIR="$work/dvc-site-cache"
t0=$(date +%s.%N)
make repro > "$work/repro.log" 2>&1 || { tail -30 "$work/repro.log"; exit 1; }
t1=$(date +%s.%N)
.venv/bin/dvc repro > "$work/noop.log" 2>&1
t2=$(date +%s.%N)
grep -q "Running stage" "$work/noop.log" && { echo "no-op repro re-ran a stage:"; cat "$work/noop.log"; exit 1; }
python3 - "$t0" "$t1" "$t2" <<'PY'
import sys
t0, t1, t2 = map(float, sys.argv[1:])
print(f"make repro (fresh clone, incl. venv + install): {t1 - t0:6.1f} s")
print(f"dvc repro, nothing changed:                     {t2 - t1:6.2f} s (target < 5 s)")
PY
