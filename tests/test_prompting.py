"""The generator prompt: one template, contexts fitted to the token budget, answer-only labels."""

from __future__ import annotations

import pytest

from pdfqa.config import GUIDE_TEMPLATE, GeneratorConfig
from pdfqa.generation.prompt import (
    PromptBuilder,
    clean_generation,
    pad_batch,
    render_prompt,
    tokenize_example,
)

CHUNK = "ko.TEX은 2013년에 CTAN에 등재되었다. 자동 조사 기능은 nojosa 옵션으로 끈다. "


def test_prompt_is_the_guides_template_up_to_the_answer():
    prompt = render_prompt(GUIDE_TEMPLATE, "문맥", "질문인가요?")
    assert prompt == ("다음은 문서의 내용입니다:\n\n문맥\n\n질문: 질문인가요?\n\n"
                      "위 문서 내용을 바탕으로 정확하고 도움이 되는 답변을 제공해주세요.\n\n답변: ")  # fmt: skip


def test_braces_in_pdf_text_do_not_break_formatting():
    prompt = render_prompt(GUIDE_TEMPLATE, r"\newcommand{\foo}{bar} {question}", "{context}?")
    assert r"\newcommand{\foo}{bar} {question}" in prompt and "질문: {context}?" in prompt


@pytest.mark.parametrize(
    "bad", ["{context} {question}", "{answer} {context} {question}", "{context} {answer}"]
)
def test_template_must_have_each_field_once_and_end_with_the_answer(bad):
    with pytest.raises(ValueError):
        GeneratorConfig(prompt_template=bad)


def test_builder_keeps_relevant_chunks_and_trims_distractors_to_the_budget(gemma_tokenizer):
    builder = PromptBuilder(gemma_tokenizer, GUIDE_TEMPLATE, max_length=200)
    relevant = CHUNK
    distractors = [
        "글꼴은 setkomainfont 명령으로 지정한다. " * 8,
        "표는 tabular 환경으로 만든다. " * 8,
    ]
    prompt, placed = builder.build("자동 조사 기능은 어떻게 끄나요?", [distractors[0], relevant, distractors[1]],
                                   reserve=30, keep=[1])  # fmt: skip
    assert relevant.strip() in prompt and 1 in placed
    assert builder.count(prompt) + 30 + 2 <= 200
    assert distractors[0] not in prompt  # trimmed, not dropped whole or kept whole
    roomy, placed_all = PromptBuilder(gemma_tokenizer, GUIDE_TEMPLATE, 2000).build(
        "질문?", [distractors[0], relevant, distractors[1]], reserve=30, keep=[1]
    )
    assert placed_all == [0, 1, 2] and all(d.strip() in roomy for d in distractors)


def test_labels_cover_exactly_the_answer_and_eos(gemma_tokenizer):
    prompt = render_prompt(GUIDE_TEMPLATE, CHUNK, "ko.TeX은 언제 CTAN에 등재되었나요?")
    answer = "2013년에 등재되었습니다."
    example = tokenize_example(gemma_tokenizer, prompt, answer, max_length=512)
    ids, labels = example["input_ids"], example["labels"]
    assert len(ids) == len(labels) == len(example["attention_mask"]) <= 512
    answer_ids = [t for t in labels if t != -100]
    assert answer_ids[-1] == gemma_tokenizer.eos_token_id
    assert gemma_tokenizer.decode(answer_ids[:-1]) == answer
    first = labels.index(answer_ids[0])
    assert all(t == -100 for t in labels[:first])
    # inference sees exactly the tokens training conditioned on
    assert gemma_tokenizer(prompt)["input_ids"] == ids[:first]


def test_a_long_prompt_never_cuts_the_answer(gemma_tokenizer):
    answer = "nojosa 옵션으로 끕니다."
    example = tokenize_example(gemma_tokenizer, CHUNK * 50, answer, max_length=64)
    assert len(example["input_ids"]) == 64
    labelled = [t for t in example["labels"] if t != -100]
    assert gemma_tokenizer.decode(labelled[:-1]) == answer


def test_pad_batch_pads_right_with_masked_labels():
    batch = pad_batch([{"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1], "labels": [-100, 6, 7]},
                       {"input_ids": [5], "attention_mask": [1], "labels": [5]}], pad_id=0)  # fmt: skip
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [5, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  nojosa 옵션으로 끕니다.\n\n질문: 다음 질문은?", "nojosa 옵션으로 끕니다."),
        ("답변: 2013년입니다.", "2013년입니다."),
        ("2013년입니다.\n\n다음은 문서의 내용입니다:\n\n...", "2013년입니다."),
        ("", ""),
    ],
)
def test_clean_generation_strips_echo_and_run_on(raw, clean):
    assert clean_generation(raw) == clean


def test_training_examples_mix_relevant_chunks_with_retrieved_distractors(gemma_tokenizer):
    from pdfqa.generation.examples import build_examples

    chunks = {
        "rel": "자동 조사 기능은 nojosa 옵션으로 끈다.",
        "copy": "앞 문단 끝. 자동 조사 기능은 nojosa 옵션으로 끈다.",  # overlapping chunk: has the evidence
        "d1": "글꼴은 setkomainfont 명령으로 지정한다.",
        "d2": "표는 tabular 환경으로 만든다.",
    }
    records = [
        {"id": "q1", "question": "자동 조사 기능은 어떻게 끄나요?", "answerable": True, "answer": "nojosa 옵션을 줍니다.",
         "evidence": "자동 조사 기능은 nojosa 옵션으로 끈다", "relevant_chunks": ["rel"]},
        {"id": "q2", "question": "전자 서명은 어떻게 넣나요?", "answerable": False,
         "answer": "문서에서 답을 찾을 수 없습니다.", "evidence": "", "relevant_chunks": []},
    ]  # fmt: skip
    ranking = ["d1", "copy", "rel", "d2"]
    settings = GeneratorConfig(context_chunks=3, abstain_augment=1.0)
    builder = PromptBuilder(gemma_tokenizer, settings.prompt_template, 512)
    examples = build_examples(records, chunks, lambda q, k: ranking[:k], builder, settings, seed=0)
    by_kind = {e.kind: e for e in examples}
    assert set(by_kind) == {"answerable", "distractors_only", "unanswerable"}
    answerable = by_kind["answerable"].prompt
    assert chunks["rel"] in answerable and chunks["d1"] in answerable and chunks["d2"] in answerable
    assert (
        chunks["copy"] not in answerable
    )  # an overlapping chunk with the evidence is no distractor
    assert answerable.index(chunks["d1"]) < answerable.index(chunks["rel"])  # retrieval order kept
    only = by_kind["distractors_only"]
    assert "nojosa" not in only.prompt and only.answer == settings.abstain_answer
    assert by_kind["unanswerable"].answer == settings.abstain_answer


def test_the_openai_budget_tokenizer_round_trips_and_truncates():
    from pdfqa.generation.engine import _CharTokenizer

    tok = _CharTokenizer()
    text = "자동 조사 기능은 nojosa 옵션으로 끈다."
    ids = tok(text)["input_ids"]
    assert len(ids) == (len(text) + 1) // 2 and tok.decode(ids) == text
    builder = PromptBuilder(tok, GUIDE_TEMPLATE, max_length=120)
    prompt, placed = builder.build("질문?", [text * 10, text], reserve=10, keep=[1])
    assert 1 in placed
    assert text in prompt and builder.count(prompt) + 12 <= 120
