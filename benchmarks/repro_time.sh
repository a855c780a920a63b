#!/usr/bin/env bash
# Wall time of `make repro` from a fresh clone (venv + install + full pipeline) with the time of
# every DVC stage, then of a no-op `dvc repro` (target < 5 s). Commit first: the clone sees only
# committed files.
#   bash benchmarks/repro_time.sh          (KEEP=1 keeps the clone and prints where it is)
#   REV=<commit> bash benchmarks/repro_time.sh     the same for an older commit (a baseline run
#                                                  on the same machine, for ratios)
#   AVX2_FP32=1 bash benchmarks/repro_time.sh      on a faster machine, the code paths of our
#       slowest one (2 AVX2-only cores, no native bf16): PyTorch, oneDNN and MKL limited to AVX2
#       kernels and the LoRA trained in fp32 (generator.profiles.cpu.precision, set in the
#       clone only). The slow machine is still ~2x slower at the same kernels: compare two
#       commits run this way as a ratio, never as absolute minutes.
set -euo pipefail
src=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
if [ "${KEEP:-0}" = 1 ]; then echo "clone kept in $work/pdfqa"; else trap 'rm -rf "$work"' EXIT; fi
git clone -q "$src" "$work/pdfqa"
cd "$work/pdfqa"
if [ -n "${REV:-}" ]; then git checkout -q "$REV"; fi
if [ "${AVX2_FP32:-0}" = 1 ]; then
  export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
  python3 - <<'PY'
import re
text = open("params.yaml", encoding="utf-8").read()
new, n = re.subn(r"(\n    cpu: \{)(epochs: 1, batch_size: 2)", r"\1precision: fp32, \2", text)
assert n == 1, "generator.profiles.cpu not found in params.yaml"
open("params.yaml", "w", encoding="utf-8").write(new)
PY
fi
export DVC_SITE_CACHE_DIR="$work/dvc-site-cache"
t0=$(date +%s.%N)
# every output line stamped with the time it appeared: stage times come from "Running stage"
(make repro 2>&1 || echo "MAKE FAILED") | while IFS= read -r line; do
  printf '%s %s\n' "$(date +%s.%N)" "$line"
done > "$work/repro.log"
t1=$(date +%s.%N)
grep -q "MAKE FAILED" "$work/repro.log" && { tail -30 "$work/repro.log"; exit 1; }
# the venv's python on PATH, as `make` has it; ab_test is always_changed (it re-reads the registry)
PATH="$PWD/.venv/bin:$PATH" .venv/bin/dvc repro > "$work/noop.log" 2>&1
t2=$(date +%s.%N)
grep "Running stage" "$work/noop.log" | grep -qv "'ab_test'" && { echo "no-op repro re-ran a stage:"; cat "$work/noop.log"; exit 1; }
python3 - "$t0" "$t1" "$t2" "$work/repro.log" <<'PY'
import re, sys
t0, t1, t2 = map(float, sys.argv[1:4])
starts = []
for line in open(sys.argv[4], encoding="utf-8", errors="replace"):
    stamp, _, text = line.partition(" ")
    m = re.search(r"Running stage '([^']+)'", text)
    if m:
        starts.append((m.group(1), float(stamp)))
print(f"make repro (fresh clone, incl. venv + install): {t1 - t0:6.1f} s")
if starts:
    print(f"  venv + install before the first stage:        {starts[0][1] - t0:6.1f} s")
    pipeline = t1 - starts[0][1]
    for (name, start), nxt in zip(starts, [s for _, s in starts[1:]] + [t1]):
        print(f"  {name:<20} {nxt - start:7.1f} s")
    print(f"  dvc repro (all stages):                       {pipeline:6.1f} s")
print(f"dvc repro, nothing changed:                     {t2 - t1:6.2f} s (target < 5 s)")
PY
