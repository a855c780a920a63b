"""The extractive answer: which retrieved sentence answers, and how far it is extended."""

from __future__ import annotations

import numpy as np

from pdfqa.config import GeneratorConfig
from pdfqa.generation.engine import ExtractiveBackend
from pdfqa.retrieval.index import Hit


class _FlatModel:
    """Every text gets the same embedding: the dense term ties, word coverage decides."""

    prompts = None

    def encode(self, texts, **_):
        return np.ones((len(texts), 4), dtype=np.float32) / 2


class _Idf:
    def __init__(self, table):
        self.table = table

    def idf(self, word):
        return self.table.get(word, 1.0)


class _Retriever:
    def __init__(self, idf):
        self.model = _FlatModel()
        self.bm25 = _Idf(idf)


def _hit(text, page=1):
    return Hit(f"c{page}", 1.0, text, "a.pdf", page, page)


def test_the_sentence_with_the_rare_question_word_wins_over_common_overlap():
    # "문서" is everywhere (low IDF), "nojosa" is the specific word the answer carries
    backend = ExtractiveBackend(GeneratorConfig(), _Retriever({"문서": 0.1, "nojosa": 5.0}))
    backend.options = backend.options.model_copy(update={"max_answer_chars": 0})
    hits = [_hit("이 문서는 문서 조판 문서를 다룬다. 자동 조사는 nojosa 옵션으로 끈다.")]
    draft = backend.answer("문서에서 자동 조사를 끄는 nojosa 옵션은?", hits)
    assert draft.text == "자동 조사는 nojosa 옵션으로 끈다."
    assert draft.cited == [0] and 0.5 < draft.likelihood <= 1


def test_the_answer_is_extended_with_the_following_sentences_up_to_the_limit():
    text = "설치 방법은 다음과 같다. tlmgr install kotex-utf 를 실행한다. 그 다음 글꼴을 설정한다."
    backend = ExtractiveBackend(GeneratorConfig(), _Retriever({"설치": 3.0, "방법": 2.0}))
    full = backend.answer("설치 방법은?", [_hit(text)]).text
    assert full == text  # 51 characters ≤ 240: all three sentences
    backend.options = backend.options.model_copy(update={"max_answer_chars": 50})
    assert backend.answer("설치 방법은?", [_hit(text)]).text == (
        "설치 방법은 다음과 같다. tlmgr install kotex-utf 를 실행한다."
    )


def test_a_later_passage_wins_only_when_it_answers_better():
    backend = ExtractiveBackend(GeneratorConfig(), _Retriever({"epub": 6.0}))
    hits = [_hit("ko.TeX 문서를 만든다.", 1), _hit("EPUB 전자책으로 변환한다.", 2)]
    drafts = backend.answer_batch(["EPUB 변환은?", "ko.TeX 문서는?"], [hits, hits])
    assert drafts[0].cited == [1] and "EPUB" in drafts[0].text
    assert drafts[1].cited == [0]
    assert backend.answer_batch(["질문"], [[]])[0].text == ""


def test_a_quoted_sentence_that_says_not_found_is_an_answer_not_an_abstention():
    """The extractive system quotes the documents: "…파일을 찾을 수 없다면 …" is the answer it
    found (on the cold-start folds such a quote hid the right answer and flipped with the corpus).
    It abstains only through the gate; a generator that writes the refusal still abstains."""
    from pdfqa.generation.confidence import Calibration
    from pdfqa.generation.engine import AnswerGenerator

    settings = GeneratorConfig()
    quote = "단, kotexutf.sty 파일을 찾을 수 없다면 이 옵션이 없더라도 CJK-ko 패키지를 부른다."
    hits = [_hit(quote, page=2)]
    engine = AnswerGenerator.__new__(AnswerGenerator)
    engine.settings, engine.model_label = settings, "extractive"
    engine.backend = ExtractiveBackend(settings, _Retriever({"kotexutf.sty": 5.0}))
    engine.calibration = Calibration(threshold=0.0)
    engine._retrieve = lambda q, *a, **k: (hits, (0.9, 0.1, 1.0, 1.0))
    answer = engine.answer("kotexutf.sty가 없으면 어떻게 되나요?")
    assert not answer.abstained and answer.text == quote and answer.citations == [("a.pdf", 2)]
    # the same words from a generator are its refusal
    engine.backend = object()
    assert engine.model_abstained(settings.abstain_answer)
    assert engine.model_abstained("죄송하지만 문서에서 찾을 수 없습니다")
    assert not engine.model_abstained("kotexutf.sty를 부른다")
