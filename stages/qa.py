"""Stage qa: data/qa/human.jsonl + reviewed app feedback + chunks → data/qa/{train,val,test}.jsonl,
stats.json, splits.json, hard_questions.jsonl (eval-only: 👎 answers nobody corrected)."""

from __future__ import annotations

from pdfqa.config import Params
from pdfqa.errors import PdfqaError


def main(cfg: Params) -> None:
    from pdfqa.jsonio import read_jsonl, write_json, write_jsonl
    from pdfqa.qa import SPLITS, build_qa_sets, feedback, load_human

    paths = cfg.paths
    for needed in (paths.human_qa, paths.chunks):
        if not needed.exists():
            raise PdfqaError(f"{needed} not found (see README: 'QA data')")
    human = load_human(read_jsonl(paths.human_qa))
    chunks = list(read_jsonl(paths.chunks))
    fb = feedback.collect(feedback.read_events(paths.feedback),
                          feedback.read_reviews(paths.feedback_reviews), chunks, cfg.qa.min_overlap)  # fmt: skip
    taken = {r.id for r in human}
    records = [r for r in fb.records if r.id not in taken]

    sets = build_qa_sets(human + records, chunks, cfg.qa, cfg.seed,
                         no_test=frozenset(r.id for r in records))  # fmt: skip
    by_id = {r.id: r for r in records}
    hard = fb.hard + [{"id": i, "question": by_id[i].question, "answer": by_id[i].answer,
                       "why": "evidence on a test page (the test split stays frozen)"}
                      for i in sets.kept_out]  # fmt: skip
    stats = {**sets.stats, "feedback": {**fb.stats, "records": len(records) - len(sets.kept_out),
                                        "kept_out_test_pages": len(sets.kept_out),
                                        "hard_questions": len(hard)}}  # fmt: skip

    for split in SPLITS:
        write_jsonl(paths.qa_split(split), sets.splits[split])
    write_jsonl(paths.hard_questions, sorted(hard, key=lambda r: r["id"]))
    write_json(paths.qa_dir / "stats.json", stats)
    write_json(paths.qa_dir / "splits.json", sets.page_splits)


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("qa", main, __doc__))
