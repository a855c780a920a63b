"""Korean text primitives shared by ingest, chunking, retrieval and metrics.

Kiwi (kiwipiepy) ships its model inside the pip package, so sentence splitting and morpheme
tokenisation work offline. It takes ~1.5 s to load, so one instance is shared per process and
only created when first needed. The regex fallback covers environments where Kiwi cannot load
and is what the tests compare Kiwi against.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

HANGUL_RE = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff]")
# C0/C1 controls except tab/newline, plus zero-width and BOM characters pypdf leaks from fonts.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
MOJIBAKE_RE = re.compile(r"[\ufffd\ue000-\uf8ff]")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?。？！])[\"'”’)\]]*\s+")


def normalize(text: str) -> str:
    """NFC (pypdf may emit decomposed jamo) and no control characters."""
    return CONTROL_RE.sub("", unicodedata.normalize("NFC", text))


def squash(text: str) -> str:
    """Whitespace-insensitive form: PDF text does not keep word spaces reliably (Korean words
    are often split or run together by the extractor), so evidence and answers are matched on it."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", text))


def is_hangul(char: str) -> bool:
    return bool(HANGUL_RE.match(char))


def hangul_ratio(text: str) -> float:
    """Share of Hangul among letters (digits, spaces and punctuation do not count)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if is_hangul(c)) / len(letters)


@lru_cache(maxsize=1)
def kiwi():
    from kiwipiepy import Kiwi

    return Kiwi()


def split_sentences_regex(text: str) -> list[str]:
    """Split after ., !, ? (and CJK full stops) followed by whitespace; newlines are boundaries."""
    sentences: list[str] = []
    for line in text.split("\n"):
        sentences.extend(s.strip() for s in _SENTENCE_END_RE.split(line) if s.strip())
    return sentences


def split_sentences_kiwi(texts: list[str]) -> list[list[str]]:
    """Kiwi also finds sentence ends without punctuation (…한다 다음 문장). Batched: Kiwi
    parallelises a list internally, ~10x faster than one call per paragraph."""
    if not texts:
        return []
    results = kiwi().split_into_sents(texts)
    return [[s.text.strip() for s in sents if s.text.strip()] for sents in results]


SentenceSplitter = Callable[[list[str]], list[list[str]]]
TokenCounter = Callable[[list[str]], list[int]]


def sentence_splitter(name: str) -> SentenceSplitter:
    """Paragraphs in, sentences per paragraph out."""
    if name == "kiwi":
        return split_sentences_kiwi
    if name == "regex":
        return lambda texts: [split_sentences_regex(t) for t in texts]
    raise ValueError(f"unknown sentence splitter {name!r} (use 'kiwi' or 'regex')")


def morphemes(text: str) -> list[str]:
    """Surface forms of Kiwi morphemes: the unit for Korean BM25, ROUGE and token counts."""
    return [token.form for token in kiwi().tokenize(text)]


_KEEP_SYMBOL_TAGS = {"SL", "SH", "SN"}  # Latin words, Hanja and numbers carry meaning


def search_tokens(text: str) -> list[str]:
    """Morphemes for lexical matching (BM25, overlap filters): punctuation dropped, Latin
    lower-cased. Kiwi separates particles and endings, so "패키지를" matches "패키지"."""
    return [
        token.form.lower()
        for token in kiwi().tokenize(text)
        if not token.tag.startswith("S") or token.tag in _KEEP_SYMBOL_TAGS
    ]


_CONTENT_TAG_PREFIXES = ("NN", "NR", "NP", "VV", "VA", "XR", "MA", "SL", "SH", "SN")


def content_tokens(text: str) -> list[str]:
    """Nouns, verb/adjective stems, roots, adverbs, Latin words, Hanja, numbers: the words that
    carry meaning. Particles and endings would make any two Korean sentences look similar."""
    return [
        token.form.lower()
        for token in kiwi().tokenize(text)
        if token.tag.startswith(_CONTENT_TAG_PREFIXES)
    ]


# Question words carry no topic: "무엇" or "언제" is rare in a manual, so left in they would make
# an answerable "ko.TeX이란 무엇인가요?" look as if its key word were missing from the documents.
INTERROGATIVES = frozenset(
    {"무엇", "뭐", "언제", "어디", "얼마", "얼마나", "누구", "어떻", "왜", "무슨"}
)


def question_words(question: str) -> list[str]:
    """The words a question's coverage is measured on: its content words, once each, without
    question words."""
    return [w for w in dict.fromkeys(content_tokens(question)) if w not in INTERROGATIVES]


Terms = tuple[frozenset[str], str]  # a text's search tokens, and the text without spaces


def text_terms(text: str) -> Terms:
    """What ``covered_share`` looks words up in (computed once per passage by the retriever)."""
    return frozenset(search_tokens(text)), squash(text).lower()


def covered_share(words: list[str], terms: Terms, idf: Callable[[str], float]) -> float:
    """IDF-weighted share of ``words`` present in a text: as a search token, or (longer than one
    character) inside the space-free text, since PDF text loses word spaces and that can change
    Kiwi's split."""
    tokens, squashed = terms
    weights = [idf(w) for w in words]
    total = sum(weights)
    found = sum(
        x for w, x in zip(words, weights, strict=True)
        if w in tokens or (len(w) > 1 and w in squashed)
    )  # fmt: skip
    return found / total if total else 0.0


def token_counter(name: str) -> TokenCounter:
    """Texts in, token counts out (batched for Kiwi)."""
    if name == "kiwi":
        return lambda texts: [len(tokens) for tokens in kiwi().tokenize(texts)] if texts else []
    if name == "whitespace":
        return lambda texts: [len(t.split()) for t in texts]
    raise ValueError(f"unknown tokenizer {name!r} (use 'kiwi' or 'whitespace')")
