"""BM25 over Korean morphemes (Kiwi + bm25s).

Whitespace tokens fail on Korean: "패키지를", "패키지는" and "패키지" would be three different
terms. Kiwi splits particles and endings off, so a question and a passage share terms.
"""

from __future__ import annotations

from dataclasses import dataclass

from pdfqa.korean import search_tokens


@dataclass
class KoreanBM25:
    texts: list[str]
    k1: float = 1.5
    b: float = 0.75

    def __post_init__(self) -> None:
        import bm25s

        self._doc_freq = None
        self._index = bm25s.BM25(k1=self.k1, b=self.b)
        docs = [search_tokens(t) or ["∅"] for t in self.texts]
        # bm25s numbers the vocabulary in set order, which changes with PYTHONHASHSEED: the
        # saved index would differ byte for byte between runs and DVC would re-run everything
        # downstream. Sorted ids give the same scores and the same bytes every time.
        vocab = {token: i for i, token in enumerate(sorted({t for doc in docs for t in doc}))}
        self._index.index(([[vocab[t] for t in doc] for doc in docs], vocab), show_progress=False)

    def save(self, directory) -> None:
        self._index.save(str(directory))

    @classmethod
    def load(cls, directory, texts: list[str]) -> KoreanBM25:
        import bm25s

        obj = cls.__new__(cls)
        obj.texts, obj.k1, obj.b, obj._doc_freq = texts, 0.0, 0.0, None
        obj._index = bm25s.BM25.load(str(directory))
        obj.k1, obj.b = obj._index.k1, obj._index.b
        return obj

    def idf(self, token: str) -> float:
        """Lucene BM25 inverse document frequency; a term the corpus never uses gets the
        highest value (it is the most specific word a question can contain)."""
        import math

        if self._doc_freq is None:
            import numpy as np

            self._doc_freq = np.diff(self._index.scores["indptr"])
        n_docs = int(self._index.scores["num_docs"])
        term = self._index.vocab_dict.get(token)
        df = 0 if term is None else int(self._doc_freq[term])
        return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))

    def has_term(self, token: str) -> bool:
        """Whether any indexed text contains the (search-token) term."""
        return token in self._index.vocab_dict

    def search(self, query: str, k: int = 10, weight_mask=None) -> list[tuple[int, float]]:
        """(text index, score) best first; empty when the query shares no term.
        ``weight_mask`` (one 0/1 per text) restricts the search to some texts."""
        tokens = [t for t in search_tokens(query) if t in self._index.vocab_dict]
        if not tokens:
            return []
        k = min(k, len(self.texts) if weight_mask is None else int((weight_mask > 0).sum()))
        if k == 0:
            return []
        ids, scores = self._index.retrieve([tokens], k=k, show_progress=False,
                                           weight_mask=weight_mask)  # fmt: skip
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]
