"""QA sets: human questions and synthetic pairs in, validated train/val/test splits out.

``records`` loads the human set, anchors evidence to chunks and splits without leakage;
``build`` is the ``qa`` stage's work; ``synthetic`` makes train-only pairs (``synth_qa``);
``validation`` is the Great Expectations gate (``validate``) that stops ``dvc repro`` on bad
data before anything trains.
"""

from pdfqa.qa import feedback
from pdfqa.qa.build import QASets, build_qa_sets
from pdfqa.qa.records import (
    ABSTAIN_ANSWER,
    SPLITS,
    HumanQA,
    assign_splits,
    document_splits,
    load_human,
    resolve_evidence,
    section_splits,
    statistics,
    to_guide_record,
)
from pdfqa.qa.synthetic import IctOptions, filter_generated, ict_pairs, synthesize, train_chunks
from pdfqa.qa.validation import GateResult, describe, run_gate

__all__ = [
    "ABSTAIN_ANSWER",
    "SPLITS",
    "GateResult",
    "HumanQA",
    "IctOptions",
    "QASets",
    "assign_splits",
    "build_qa_sets",
    "describe",
    "document_splits",
    "feedback",
    "filter_generated",
    "ict_pairs",
    "load_human",
    "resolve_evidence",
    "run_gate",
    "section_splits",
    "statistics",
    "synthesize",
    "to_guide_record",
    "train_chunks",
]
