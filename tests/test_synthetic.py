from __future__ import annotations

import pytest

from pdfqa.jsonio import read_jsonl
from pdfqa.korean import sentence_splitter
from pdfqa.qa.synthetic import (
    IctOptions,
    filter_generated,
    ict_pairs,
    lexical_overlap,
    parse_questions,
    train_chunks,
)

CHUNKS = [
    {"chunk_id": "a-0", "source": "a.pdf", "page_start": 1, "page_end": 1,
     "text": "ko.TeX은 한국어 문서를 조판하기 위한 패키지 모음이다. 한국텍학회가 개발을 후원하고 배포를 맡는다. \\usepackage{kotex}"},
    {"chunk_id": "a-1", "source": "a.pdf", "page_start": 2, "page_end": 3,
     "text": "자동 조사 기능은 받침에 따라 조사를 알맞게 고른다. 이 기능은 nojosa 옵션으로 끌 수 있다."},
    {"chunk_id": "a-2", "source": "a.pdf", "page_start": 3, "page_end": 3,
     "text": "글꼴은 \\setkomainfont 명령으로 지정하며 괄호를 사용한다. 중괄호는 쓰지 않는다는 점에 주의하라."},
]  # fmt: skip
SPLIT = {"a.pdf": {"1": "train", "2": "train", "3": "test"}}


def test_only_chunks_wholly_on_train_pages_are_used():
    assert [c["chunk_id"] for c in train_chunks(CHUNKS, SPLIT)] == ["a-0"]


def test_ict_pairs_are_deterministic_and_filtered():
    opts = IctOptions(remove_sentence_prob=1.0, max_per_chunk=3)
    pairs = ict_pairs(CHUNKS, sentence_splitter("regex"), opts, seed=1)
    assert pairs == ict_pairs(CHUNKS, sentence_splitter("regex"), opts, seed=1)
    questions = [p["question"] for p in pairs]
    assert "\\usepackage{kotex}" not in questions  # code is not a question
    for pair in pairs:
        assert pair["split"] == "train" and pair["generator"] == "ict"
        assert pair["question"] not in pair["positive"]  # removed with probability 1
        assert pair["relevant_chunks"] == [
            next(
                c["chunk_id"]
                for c in CHUNKS
                if c["source"] == pair["source"] and pair["positive"][:10] in c["text"]
            )
        ]


def test_ict_keeps_the_sentence_when_removal_probability_is_zero():
    pairs = ict_pairs(
        CHUNKS, sentence_splitter("regex"), IctOptions(remove_sentence_prob=0.0), seed=1
    )
    assert pairs and all(p["question"] in p["positive"] for p in pairs)


def test_parse_questions_keeps_numbered_question_lines():
    text = "1. ko.TeX은 누가 후원하나요?\n2) 자동 조사를 끄는 방법은?\n참고: 이것은 설명입니다.\n- 짧다?\n"
    assert parse_questions(text) == ["ko.TeX은 누가 후원하나요?", "자동 조사를 끄는 방법은?"]


def test_llm_questions_must_be_answerable_and_retrieve_their_chunk():
    candidates = [
        ("자동 조사 기능을 끄는 옵션은 무엇인가요?", CHUNKS[1]),  # good
        ("자동 조사 기능을 끄는 옵션은 무엇인가요?", CHUNKS[1]),  # duplicate
        ("오늘 서울의 날씨는 어떤가요?", CHUNKS[1]),  # not in the chunk
        ("괄호를 사용하는 조사 기능은?", CHUNKS[1]),  # another chunk ranks first
    ]
    kept, stats = filter_generated(candidates, CHUNKS, min_overlap=0.5, round_trip_k=1)
    assert [k["question"] for k in kept] == ["자동 조사 기능을 끄는 옵션은 무엇인가요?"]
    assert stats == {"candidates": 4, "duplicate": 1, "low_overlap": 1, "round_trip": 1, "kept": 1}
    assert lexical_overlap("자동 조사를 끄려면?", CHUNKS[1]["text"]) >= 0.5
    assert lexical_overlap("오늘 서울의 날씨는?", CHUNKS[1]["text"]) == 0


def test_synth_qa_stage_output_is_train_only_and_off_eval_pages(sample_run):
    import json

    pairs = list(read_jsonl(sample_run.paths.synthetic_qa))
    assert len(pairs) >= 100
    assert {p["split"] for p in pairs} == {"train"}
    pages = json.loads((sample_run.paths.qa_dir / "splits.json").read_text())["pages"]
    chunks = {c["chunk_id"]: c for c in read_jsonl(sample_run.paths.chunks)}
    for pair in pairs:
        chunk = chunks[pair["relevant_chunks"][0]]
        for page in range(chunk["page_start"], chunk["page_end"] + 1):
            assert pages[chunk["source"]].get(str(page), "train") == "train"


@pytest.mark.slow
def test_llm_generator_runs_on_the_builtin_model():
    """The real generator writes questions for one chunk; whatever it writes is parsed and
    filtered without error (the base model is weak, so nothing need survive)."""
    from models_cache import builtin_dir
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pdfqa.qa.synthetic import generate_questions

    directory = builtin_dir("gemma-3-270m")
    model = AutoModelForCausalLM.from_pretrained(directory).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    candidates = generate_questions(
        model, tokenizer, CHUNKS[:1], per_chunk=2, max_new_tokens=40, context_chars=300
    )
    assert all(q.endswith("?") for q, _ in candidates)
    kept, stats = filter_generated(candidates, CHUNKS, 0.5, 3)
    assert stats["candidates"] == len(candidates) and stats["kept"] == len(kept)
