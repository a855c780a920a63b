"""Screenshots of every tab of the app serving this workspace's real bundle (or prod), for
docs/img: the same scripted visit as the browser test (pdfqa.app.tour).

    python benchmarks/app_screenshots.py [--out docs/img] [--stage prod | --workspace]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--workspace", action="store_true")
    parser.add_argument("--question", default="개발 중단(obsolete) 상태로 간주되는 패키지는?")
    args = parser.parse_args()
    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from pdfqa.app.server import start_in_process
    from pdfqa.app.tour import tour
    from pdfqa.config import load_params

    cfg = load_params()
    cfg = cfg.model_copy(
        update={"paths": cfg.paths.model_copy(update={"app_dir": ROOT / "logs" / "app-shots"})}
    )
    demo, service = start_in_process(cfg, stage=args.stage, workspace=args.workspace)
    try:
        seen = tour(demo.local_url, args.question, [args.out])
    finally:
        demo.close()
    print(
        f"{service.bundle.label if service.bundle else 'no bundle'}: "
        f"{', '.join(str(p.relative_to(ROOT)) for p in seen['shots'])}"
    )


if __name__ == "__main__":
    main()
