"""Which pipeline outputs differ between two runs, file by file.

Compares every out recorded in two dvc.lock files; for directory outs it reads each side's
`.dir` manifest from its DVC cache and names the files whose md5 differs. Used to show that a
refactor left every output byte-identical except timing fields (issue "Layout by concept"):

    python benchmarks/compare_outputs.py OLD/dvc.lock dvc.lock OLD/.dvc/cache .dvc/cache
    python benchmarks/compare_outputs.py <(git show REV:dvc.lock) dvc.lock OLD_CACHE .dvc/cache
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def outs(lock: str) -> dict[tuple[str, str], dict]:
    stages = yaml.safe_load(Path(lock).read_text(encoding="utf-8"))["stages"]
    return {(name, o["path"]): o for name, stage in stages.items() for o in stage.get("outs", [])}


def manifest(cache: str, md5: str) -> dict[str, str] | None:
    path = Path(cache) / "files" / "md5" / md5[:2] / md5[2:]
    if not path.exists():
        return None
    return {entry["relpath"]: entry["md5"] for entry in json.loads(path.read_text())}


def main(a_lock: str, b_lock: str, a_cache: str, b_cache: str) -> int:
    a, b = outs(a_lock), outs(b_lock)
    differing = 0
    for key in sorted(set(a) | set(b)):
        stage, path = key
        if key not in a or key not in b:
            print(f"{stage:16} {path}: only in {'the second' if key not in a else 'the first'} run")
            continue
        if a[key]["md5"] == b[key]["md5"]:
            print(f"{stage:16} {path}: identical")
            continue
        differing += 1
        line = f"{stage:16} {path}: DIFFERENT"
        if a[key]["md5"].endswith(".dir"):
            ma, mb = manifest(a_cache, a[key]["md5"]), manifest(b_cache, b[key]["md5"])
            if ma is None or mb is None:
                line += " (a .dir manifest is not in the given cache)"
            else:
                files = sorted(f for f in set(ma) | set(mb) if ma.get(f) != mb.get(f))
                line += f" in {len(files)} of {len(set(ma) | set(mb))} files: {', '.join(files)}"
        print(line)
    print(f"{differing} out(s) differ")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    raise SystemExit(main(*sys.argv[1:]))
