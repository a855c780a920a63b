"""Stage qa: data/qa/human.jsonl + chunks → data/qa/{train,val,test}.jsonl, stats.json, splits.json."""

from __future__ import annotations

from pdfqa.config import Params
from pdfqa.errors import PdfqaError


def main(cfg: Params) -> None:
    from pdfqa.jsonio import read_jsonl, write_json, write_jsonl
    from pdfqa.qa import SPLITS, build_qa_sets, load_human

    paths = cfg.paths
    for needed in (paths.human_qa, paths.chunks):
        if not needed.exists():
            raise PdfqaError(f"{needed} not found (see README: 'QA data')")
    human = load_human(read_jsonl(paths.human_qa))
    chunks = list(read_jsonl(paths.chunks))

    sets = build_qa_sets(human, chunks, cfg.qa, cfg.seed)

    for split in SPLITS:
        write_jsonl(paths.qa_split(split), sets.splits[split])
    write_json(paths.qa_dir / "stats.json", sets.stats)
    write_json(paths.qa_dir / "splits.json", sets.page_splits)


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("qa", main, __doc__))
