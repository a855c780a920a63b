import unicodedata

from pdfqa.korean import (
    hangul_ratio,
    morphemes,
    normalize,
    sentence_splitter,
    split_sentences_regex,
    token_counter,
)


def test_normalize_composes_jamo_and_drops_controls():
    decomposed = unicodedata.normalize("NFD", "한글")
    assert len(decomposed) > 2
    assert normalize(decomposed + "\x00\x07\u200b문서") == "한글문서"
    assert normalize("줄\n바꿈\t탭") == "줄\n바꿈\t탭"


def test_hangul_ratio_counts_letters_only():
    assert hangul_ratio("한글 abc") == 0.4
    assert hangul_ratio("1234 !!") == 0.0
    assert hangul_ratio("가나다") == 1.0


def test_regex_fallback_splits_on_terminal_punctuation():
    text = "첫 문장입니다. 두 번째 문장인가요? 세 번째!\n새 줄"
    assert split_sentences_regex(text) == [
        "첫 문장입니다.",
        "두 번째 문장인가요?",
        "세 번째!",
        "새 줄",
    ]


def test_kiwi_splits_where_regex_cannot():
    text = "이 문서는 설치 방법을 설명한다 다음 장에서는 옵션을 다룬다"
    kiwi_sents = sentence_splitter("kiwi")([text])[0]
    assert len(split_sentences_regex(text)) == 1
    assert len(kiwi_sents) == 2
    assert "".join(kiwi_sents).replace(" ", "") == text.replace(" ", "")


def test_splitters_agree_on_punctuated_text():
    text = "ko.TEX은 한국어 조판 패키지이다. 사용법은 간단하다. 문서를 컴파일하라."
    assert sentence_splitter("kiwi")([text]) == sentence_splitter("regex")([text])


def test_token_counters():
    kiwi = token_counter("kiwi")
    assert kiwi(["한국어 문장을 분석합니다", ""]) == [len(morphemes("한국어 문장을 분석합니다")), 0]
    assert token_counter("whitespace")(["a b  c", ""]) == [3, 0]
