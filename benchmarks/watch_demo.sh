#!/usr/bin/env bash
# `pdfqa watch` reacting to a PDF dropped into data/pdfs/ of the sample project: a clone of this
# repository (committed state; its DVC cache shared with this checkout, so it starts up to date),
# a watcher started in it, the PDF copied in, and the watcher's log once the run it caused ends.
#   bash benchmarks/watch_demo.sh NEW.pdf        (KEEP=1 keeps the clone and prints where it is)
# Make a Korean PDF nobody wrote questions for, e.g. a chapter of Debian's Korean FAQ:
#   apt-get download debian-faq-ko && dpkg -x debian-faq-ko_*.deb x
#   chromium --headless --no-sandbox --print-to-pdf=faq.pdf x/usr/share/doc/debian/FAQ/ko/pkg-basics.ko.html
set -euo pipefail
pdf=$(realpath "${1:?usage: watch_demo.sh NEW.pdf}")
src=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
if [ "${KEEP:-0}" = 1 ]; then echo "clone kept in $work/pdfqa"; else trap 'rm -rf "$work"' EXIT; fi
git clone -q "$src" "$work/pdfqa"
cd "$work/pdfqa"
ln -s "$src/.venv" .venv
# the clone's own code first (the shared venv's pdfqa is an editable install of $src)
export PATH="$PWD/.venv/bin:$PATH" PYTHONPATH="$PWD/src" HF_HUB_OFFLINE=1 \
  DVC_SITE_CACHE_DIR="$work/dvc-site-cache"
dvc cache dir --local "$src/.dvc/cache"
dvc config --local cache.type hardlink,copy   # outputs are replaced, never edited in place
dvc checkout -q
pdfqa watch --once --dry-run | tail -1          # up to date before the drop
pdfqa watch --debounce 5 > "$work/watch.out" 2>&1 &
watcher=$!
until grep -q '"kind": "watching"' logs/watch.jsonl 2>/dev/null; do sleep 0.5; done
cp "$pdf" data/pdfs/
until grep -q '"kind": "run"' logs/watch.jsonl; do
  kill -0 "$watcher" 2>/dev/null || { echo "the watcher died:"; cat "$work/watch.out"; exit 1; }
  sleep 2
done
kill -INT "$watcher"   # what Ctrl-C sends
wait "$watcher" || true
cat "$work/watch.out"
python3 - logs/watch.jsonl <<'PY'
import json, sys
runs = [r for r in map(json.loads, open(sys.argv[1], encoding="utf-8")) if r["kind"] == "run"]
for r in runs:
    print(f"run {r['run']}: {r['status']} in {r['seconds']:.0f} s, trigger {r['trigger']}")
    for stage in r["ran"]:
        print(f"  {stage:16s} {r['stage_seconds'].get(stage, 0):7.1f} s")
PY
