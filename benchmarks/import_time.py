"""Import time of a heavy stage with and without kept bytecode.

`make install` installs with `pip --no-compile` (no .pyc for ~200 packages up front) and relies
on Python compiling the modules a stage imports on first use and keeping the .pyc. Where
PYTHONDONTWRITEBYTECODE=1 is set (many container images set it), nothing is kept and every stage
compiles torch, transformers and sentence-transformers from source again; the Makefile unexports
it. This measures what that costs per stage, as a ratio in one run:

    python benchmarks/import_time.py            (the venv's python; --runs 3)

Both settings use their own empty PYTHONPYCACHEPREFIX, so the venv is not touched and existing
.pyc files next to the sources are not read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

# what eval_generation imports (train_embedder, index and train_generator import almost as much)
MODULES = [
    "torch",
    "transformers",
    "sentence_transformers",
    "peft",
    "sklearn.linear_model",
    "scipy.stats",
    "faiss",
    "kiwipiepy",
    "pdfqa.generation.evaluate",
    "pdfqa.generation.engine",
    "pdfqa.retrieval.index",
]


def timed_import(env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import " + ", ".join(MODULES)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed imports per setting")
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base["HF_HUB_OFFLINE"] = "1"
    with tempfile.TemporaryDirectory() as never, tempfile.TemporaryDirectory() as kept:
        compiling = {**base, "PYTHONPYCACHEPREFIX": never, "PYTHONDONTWRITEBYTECODE": "1"}
        keeping = {**base, "PYTHONPYCACHEPREFIX": kept}
        first = timed_import(keeping)  # compiles and keeps the .pyc
        cold = [timed_import(compiling) for _ in range(args.runs)]
        warm = [timed_import(keeping) for _ in range(args.runs)]
    c, w = statistics.median(cold), statistics.median(warm)
    print(f"imports of a heavy stage ({len(MODULES)} modules), median of {args.runs}:")
    print(f"  PYTHONDONTWRITEBYTECODE=1 (compiled every time): {c:6.2f} s")
    print(f"  bytecode kept (after one compiling run, {first:5.2f} s): {w:6.2f} s  ({w / c:.2f}x)")


if __name__ == "__main__":
    main()
