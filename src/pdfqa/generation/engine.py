"""The answer engine: retrieve, prompt, generate, cite, score confidence, abstain.

``AnswerGenerator(model_type, model_name, adapter, retriever=..., settings=...)`` answers with
one of three back ends:

- ``HUGGINGFACE``: a transformers causal LM (builtin Gemma by default) plus an optional peft
  LoRA adapter (merged for inference), batched greedy decoding with a repetition penalty.
- ``EXTRACTIVE``: no language model; the retrieved sentence that covers the question best. Fast
  on any CPU and never says anything the document does not.
- ``OPENAI_COMPATIBLE``: any server speaking the OpenAI completions API (vLLM serving the base
  model with ``--lora-modules pdfqa=models/generator_adapter``, llama.cpp, TGI …).

Whatever the back end says, the engine abstains with ``generator.abstain_answer`` when the
calibrated answerability score is below the threshold (or a remote model abstains by itself). A
local model is never allowed to *start* with the abstention answer: its probability of doing so
is read off the first decoding step and becomes one signal, and the model writes its best real
answer instead. One calibrated decision (fitted on val) then says whether to show it; a 270M
model left to abstain by itself also abstains on answerable questions and misses unanswerable ones.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pdfqa.config import GeneratorConfig
from pdfqa.errors import PdfqaError
from pdfqa.generation.confidence import Calibration, Signals, corpus_coverage, question_coverage
from pdfqa.generation.prompt import PromptBuilder, clean_generation, support

log = logging.getLogger("pdfqa.generation")
# Decoding stops at these. Answers are one line (the QA data's average ~38 characters; LoRA learns
# to end with EOS): what a base model writes after a line break is a list, the next question or
# the prompt again, so stopping at the first one saves decode time for nothing lost.
STOP_STRINGS = ("\n",)


class ModelType(enum.StrEnum):
    HUGGINGFACE = "huggingface"
    EXTRACTIVE = "extractive"
    OPENAI_COMPATIBLE = "openai_compatible"


@dataclass
class Answer:
    text: str
    citations: list[tuple[str, int]]
    contexts: list  # retrieval Hits offered to the model
    confidence_score: float
    latency_ms: float
    model: str
    abstained: bool = False
    raw_text: str = ""  # before abstention (what the model said)
    answerable_score: float = 1.0  # P(the documents answer the question): the abstention gate
    signals: Signals | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {"text": self.text, "citations": [list(c) for c in self.citations],
                "confidence_score": round(self.confidence_score, 4),
                "answerable_score": round(self.answerable_score, 4),
                "latency_ms": round(self.latency_ms, 1), "model": self.model,
                "abstained": self.abstained, "raw_text": self.raw_text}  # fmt: skip


@dataclass
class Draft:
    """What a back end returns before the engine decides to answer or abstain."""

    text: str
    likelihood: float
    cited: list[int] | None = None  # indices into the contexts (extractive knows exactly)
    abstain_prob: float = 0.0  # the model's probability of starting the abstention answer


def retrieval_only(retrieval: tuple[float, float, float, float]) -> Signals:
    """The signals known before generating: (top, margin, coverage, corpus coverage)."""
    top, margin, coverage, in_corpus = retrieval
    return Signals(top, margin, 0.0, coverage, 0.0, in_corpus)


@functools.lru_cache(maxsize=4096)
def _coverage(question: str, contexts: tuple[str, ...], idf) -> float:
    """``question_coverage``, remembered: the gate check and the answer both need it, and Kiwi
    tokenising ten passages is the costly part of a retrieval."""
    return question_coverage(question, contexts, idf)


def is_abstention(text: str, abstain_answer: str) -> bool:
    from pdfqa.korean import squash

    return (
        not text.strip() or squash(abstain_answer)[:8] in squash(text) or "찾을수없" in squash(text)
    )


def cite(answer: str, hits: Sequence) -> list[int]:
    """Contexts that support the answer best (at least half as well as the best one)."""
    from pdfqa.korean import content_tokens

    tokens = content_tokens(answer)
    scores = [support(tokens, set(content_tokens(h.text))) for h in hits]
    if not scores or max(scores) == 0:
        return [0] if hits else []
    best = max(scores)
    return [i for i, s in enumerate(scores) if s >= best / 2]


class CorpusHead:
    """The LM head restricted to the words an answer can use: every token of the corpus (up to
    ``VOCAB_CHUNKS`` passages), of the prompt template and the abstention answer, plus whatever
    the batch's own prompts contain (contexts, question — so an uploaded PDF's words are always
    in). Every other word gets −inf. Gemma's 262k-word head is ~60% of a CPU decoding step;
    over a few thousand words it is a few percent. Greedy decoding then spells words as the
    documents do (some base-model answers change, e.g. ``ko.Tex`` → ``ko.TEX``;
    benchmarks/decode_speed.py shows how many). Installed as the ``forward`` of the model's
    output layer; ``allow`` sets the words for the next ``generate``."""

    VOCAB_CHUNKS = 5000

    def __init__(self, head, static_ids):
        import torch

        self.head, self.full = head, head.forward
        self.vocab_size = head.weight.shape[0]
        self.static = torch.as_tensor(sorted(set(static_ids)), dtype=torch.long)
        self.ids = self.weight = None
        head.forward = self

    def allow(self, input_ids) -> int:
        import torch

        self.ids = torch.unique(torch.cat([self.static, input_ids.flatten().cpu()]))
        self.ids = self.ids.to(self.head.weight.device)
        self.weight = self.head.weight.detach()[self.ids]
        return len(self.ids)

    def __call__(self, hidden):
        if self.ids is None:
            return self.full(hidden)
        out = hidden.new_full((*hidden.shape[:-1], self.vocab_size), float("-inf"))
        out[..., self.ids] = hidden @ self.weight.T
        return out


def corpus_token_ids(tokenizer, texts: Sequence[str], limit: int) -> set[int]:
    """Token ids of at most ``limit`` of ``texts`` (evenly spaced), as the model reads them."""
    sample = list(texts[:: max(1, -(-len(texts) // limit))])
    ids: set[int] = set()
    for start in range(0, len(sample), 256):
        for row in tokenizer(sample[start : start + 256], add_special_tokens=False)["input_ids"]:
            ids.update(row)
    return ids


class HuggingFaceBackend:
    def __init__(self, settings: GeneratorConfig, model_name: str, adapter: Path | None, base_dir,
                 corpus: Sequence[str] = ()):  # fmt: skip
        import torch

        from pdfqa.models import default_device, load_causal_lm

        self.device = default_device()
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        model, tokenizer = load_causal_lm(model_name, base_dir, dtype=dtype)
        if adapter is not None:
            from peft import PeftModel

            if not (Path(adapter) / "adapter_config.json").exists():
                raise PdfqaError(f"no LoRA adapter in {adapter}: run `dvc repro train_generator`")
            model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
        self.model = model.to(self.device).eval()
        tokenizer.padding_side = "left"  # generation continues every row at the same position
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.tokenizer = tokenizer
        self.settings = settings
        self.builder = PromptBuilder(tokenizer, settings.prompt_template, settings.max_length)
        # training tokenises the answer on its own, so this is the token an abstention starts with
        self.abstain_token = tokenizer(settings.abstain_answer, add_special_tokens=False)[
            "input_ids"
        ][0]
        self.head = None
        if settings.restrict_vocabulary and corpus:
            fixed = [settings.prompt_template, settings.abstain_answer, *STOP_STRINGS]
            static = corpus_token_ids(tokenizer, fixed, len(fixed))  # never sampled away
            static |= corpus_token_ids(tokenizer, corpus, CorpusHead.VOCAB_CHUNKS)
            static |= {t for t in (tokenizer.eos_token_id, tokenizer.pad_token_id) if t is not None}
            self.head = CorpusHead(self.model.get_output_embeddings(), static)

    def generate(self, prompts: list[str], streamer=None) -> list[Draft]:
        """Greedy drafts; ``streamer`` (a transformers TextStreamer, one prompt only) receives
        the text as it is generated."""
        import torch

        s = self.settings
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True).to(self.device)
        if self.head is not None:
            self.head.allow(enc["input_ids"])
        with torch.no_grad():
            out = self.model.generate(
                **enc, max_new_tokens=s.max_new_tokens, do_sample=False, streamer=streamer,
                repetition_penalty=s.repetition_penalty, output_logits=True,
                return_dict_in_generate=True, pad_token_id=self.tokenizer.pad_token_id,
                stop_strings=list(STOP_STRINGS), tokenizer=self.tokenizer,
                begin_suppress_tokens=[self.abstain_token],
            )  # fmt: skip
        new = out.sequences[:, enc["input_ids"].shape[1] :]
        logprobs = torch.stack(out.logits, dim=1).float().log_softmax(-1)  # raw, unsuppressed
        abstain_prob = logprobs[:, 0, self.abstain_token].exp().tolist()
        token_lp = logprobs.gather(-1, new[:, : logprobs.shape[1], None]).squeeze(-1)
        drafts = []
        for row in range(len(prompts)):
            ids = new[row].tolist()
            stop = len(ids)
            for j, t in enumerate(ids):
                if t in (self.tokenizer.eos_token_id, self.tokenizer.pad_token_id):
                    stop = j
                    break
            lp = token_lp[row, : max(1, stop)].tolist()
            text = self.tokenizer.decode(ids[:stop], skip_special_tokens=True)
            drafts.append(Draft(text, math.exp(sum(lp) / len(lp)), abstain_prob=abstain_prob[row]))
        return drafts


class OpenAICompatibleBackend:
    """POST /v1/completions with the same prompt the local model gets; urllib, no SDK."""

    def __init__(self, settings: GeneratorConfig, model_name: str, endpoint: str, api_key: str | None,
                 tokenizer=None, timeout: float = 120.0):  # fmt: skip
        self.settings = settings
        self.model_name = model_name
        self.url = (
            endpoint.rstrip("/")
            + ("" if endpoint.rstrip("/").endswith("/v1") else "/v1")
            + "/completions"
        )
        self.api_key = api_key
        self.timeout = timeout
        self.builder = PromptBuilder(
            tokenizer or _CharTokenizer(), settings.prompt_template, settings.max_length
        )

    def generate(self, prompts: list[str]) -> list[Draft]:
        import urllib.error
        import urllib.request

        drafts = []
        for prompt in prompts:
            body = {"model": self.model_name, "prompt": prompt, "max_tokens": self.settings.max_new_tokens,
                    "temperature": 0, "logprobs": 1, "stop": ["\n\n질문:", "\n질문:"],
                    "repetition_penalty": self.settings.repetition_penalty}  # fmt: skip
            request = urllib.request.Request(
                self.url, data=json.dumps(body).encode(), method="POST",
                headers={"Content-Type": "application/json",
                         **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})},
            )  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    payload = json.load(response)
            except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
                raise PdfqaError(f"OpenAI-compatible server at {self.url} failed: {exc}") from None
            choice = payload["choices"][0]
            lps = [
                x
                for x in ((choice.get("logprobs") or {}).get("token_logprobs") or [])
                if x is not None
            ]
            drafts.append(
                Draft(choice.get("text", ""), math.exp(sum(lps) / len(lps)) if lps else 0.5)
            )
        return drafts


class _CharTokenizer:
    """Budgeting stand-in when the served model's tokenizer is not local: one "token" per two
    characters (Gemma averages ~1.9 Korean characters per token), losslessly decodable."""

    _BASE = 0x110000  # one more than the largest code point

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        ids = [ord(text[i]) * self._BASE + (ord(text[i + 1]) + 1 if i + 1 < len(text) else 0)
               for i in range(0, len(text), 2)]  # fmt: skip
        return {"input_ids": ids}

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        pairs = (divmod(i, self._BASE) for i in ids)
        return "".join(chr(a) + (chr(b - 1) if b else "") for a, b in pairs)


class ExtractiveBackend:
    """The retrieved sentence that answers best, and the next one when it is short.

    Each sentence of the retrieved passages is scored by how much of the question it carries,
    two ways: the IDF-weighted share of the question's content words it contains (the rare,
    specific word counts most) plus its cosine to the question under the fine-tuned embedder
    (paraphrases: "정렬" vs "순서대로"), minus a small penalty per passage rank. The best sentence
    is then extended with the sentences after it in the same passage while the answer stays within
    ``max_answer_chars``: an answer often starts in one sentence and ends in the next ("다음과
    같다. …"). Chosen on the train and val splits; measured on the leave-one-document-out folds
    (benchmarks/coldstart.py).

    ``likelihood`` (a confidence signal) is the chosen sentence's weighted coverage."""

    builder = None

    def __init__(self, settings: GeneratorConfig, retriever):
        self.settings = settings
        self.options = settings.extractive
        self.retriever = retriever

    def answer_batch(self, questions: Sequence[str], hits_per_question: Sequence) -> list[Draft]:
        from pdfqa.korean import INTERROGATIVES, content_tokens, split_sentences_kiwi
        from pdfqa.retrieval.index import encode_passages, encode_queries

        candidates = []  # (question index, rank, sentence index, sentences of that passage)
        for q, hits in enumerate(hits_per_question):
            for rank, sentences in enumerate(
                split_sentences_kiwi([h.text for h in hits]) if hits else []
            ):
                candidates += [(q, rank, j, sentences) for j in range(len(sentences))]
        if not candidates:
            return [Draft("", 0.0, []) for _ in questions]
        opts = self.options
        cosine = [0.0] * len(candidates)
        if opts.dense_weight:
            texts = [s[j] for _, _, j, s in candidates]
            if hasattr(self.retriever, "vectors"):  # each sentence encoded once per retriever
                queries = self.retriever.vectors(list(questions), "query")
                passages = self.retriever.vectors(texts, "passage")
            else:
                queries = encode_queries(self.retriever.model, list(questions))
                passages = encode_passages(self.retriever.model, texts)
            cosine = [float(passages[i] @ queries[c[0]]) for i, c in enumerate(candidates)]
        wanted = []
        for question in questions:
            words = [w for w in dict.fromkeys(content_tokens(question)) if w not in INTERROGATIVES]
            wanted.append({w: self.retriever.bm25.idf(w) for w in words})
        best: dict[int, tuple[float, float, int, int, list[str]]] = {}
        for (q, rank, j, sentences), cos in zip(candidates, cosine, strict=True):
            tokens = set(content_tokens(sentences[j]))
            total = sum(wanted[q].values())
            coverage = sum(w for t, w in wanted[q].items() if t in tokens) / total if total else 0.0
            score = coverage + opts.dense_weight * cos - opts.rank_penalty * rank
            if q not in best or score > best[q][0]:
                best[q] = (score, coverage, rank, j, sentences)
        drafts = []
        for q in range(len(questions)):
            if q not in best:
                drafts.append(Draft("", 0.0, []))
                continue
            _, coverage, rank, j, sentences = best[q]
            text = sentences[j]
            for following in sentences[j + 1 :]:
                if len(text) + 1 + len(following) > opts.max_answer_chars:
                    break
                text = f"{text} {following}"
            drafts.append(Draft(text, coverage, [rank]))
        return drafts

    def answer(self, question: str, hits: Sequence) -> Draft:
        return self.answer_batch([question], [hits])[0]


class AnswerGenerator:
    def __init__(
        self,
        model_type: ModelType | str = ModelType.HUGGINGFACE,
        model_name: str | None = None,
        adapter: Path | str | None = None,
        *,
        retriever,
        settings: GeneratorConfig | None = None,
        calibration: Calibration | None = None,
        base_dir: Path | None = None,
        endpoint: str | None = None,
        api_key: str | None = None,
        label: str | None = None,
    ):
        self.model_type = ModelType(model_type)
        self.settings = settings or GeneratorConfig()
        self.retriever = retriever
        self.calibration = calibration or Calibration(
            threshold=self.settings.confidence.threshold,
            retrieval_weight=self.settings.confidence.retrieval_weight,
        )
        model_name = model_name or self.settings.base_model
        if self.model_type is ModelType.HUGGINGFACE:
            from pdfqa.models.builtins import DEFAULT_BASE_DIR

            corpus = [c["text"] for c in getattr(retriever, "chunks", None) or []]
            self.backend = HuggingFaceBackend(self.settings, model_name, Path(adapter) if adapter else None,
                                              base_dir or DEFAULT_BASE_DIR, corpus)  # fmt: skip
        elif self.model_type is ModelType.OPENAI_COMPATIBLE:
            if not endpoint:
                raise PdfqaError(
                    "OPENAI_COMPATIBLE needs an endpoint, e.g. http://localhost:8000/v1"
                )
            self.backend = OpenAICompatibleBackend(self.settings, model_name, endpoint, api_key)
        else:
            self.backend = ExtractiveBackend(self.settings, retriever)
        self.model_label = label or (
            "extractive" if self.model_type is ModelType.EXTRACTIVE
            else f"{model_name}{' + ' + str(adapter) if adapter else ''}"
        )  # fmt: skip

    def answer(
        self, question: str, *, k: int | None = None, mode: str = "hybrid", scope=None
    ) -> Answer:
        return self.answer_batch([question], k=k, mode=mode, scope=scope)[0]

    def answer_batch(
        self, questions: Sequence[str], *, k: int | None = None, mode: str = "hybrid", scope=None
    ) -> list[Answer]:
        """Answers in order; latency_ms is this batch's wall time divided by its size. ``k``
        chunks (default ``context_chunks``) are retrieved with ``mode`` (hybrid|dense|bm25),
        from the documents/pages a ``retrieval.Scope`` admits (None: all)."""
        start = time.perf_counter()
        retrieved = [self._retrieve(q, k, mode, scope) for q in questions]
        # the gate decides on retrieval signals alone: what it abstains on is never generated
        todo = [
            i
            for i, (_, r) in enumerate(retrieved)
            if not self.calibration.gates_out(retrieval_only(r))
        ]
        drafts = [Draft("", 0.0, []) for _ in questions]
        used = [hits for hits, _ in retrieved]
        written: list[Draft] = []
        if todo and isinstance(self.backend, ExtractiveBackend):
            written = self.backend.answer_batch([questions[i] for i in todo],
                                                [retrieved[i][0] for i in todo])  # fmt: skip
        elif todo:
            prompts = []
            for i in todo:
                hits = retrieved[i][0]
                prompt, placed = self.backend.builder.build(
                    questions[i], [h.text for h in hits], reserve=self.settings.max_new_tokens
                )
                prompts.append(prompt)
                used[i] = [hits[j] for j in placed]
            written = self.backend.generate(prompts)
        for i, draft in zip(todo, written, strict=True):
            drafts[i] = draft
        per_question_ms = (time.perf_counter() - start) * 1000 / max(1, len(questions))
        return [self._finish(q, d, hits, signals, per_question_ms)
                for q, d, hits, (_, signals) in zip(questions, drafts, used, retrieved, strict=True)]  # fmt: skip

    def stream(self, question: str, *, k: int | None = None, mode: str = "hybrid", scope=None):
        """Yields the growing text while a generative backend writes, then the final Answer
        (abstention decided, citations attached). Extractive answers come in one piece."""
        if not isinstance(self.backend, HuggingFaceBackend):
            yield self.answer(question, k=k, mode=mode, scope=scope)
            return
        import threading

        from transformers import TextIteratorStreamer

        start = time.perf_counter()
        hits, signals = self._retrieve(question, k, mode, scope)
        if self.calibration.gates_out(retrieval_only(signals)):
            yield self._finish(question, Draft("", 0.0, []), hits, signals,
                               (time.perf_counter() - start) * 1000)  # fmt: skip
            return
        prompt, placed = self.backend.builder.build(
            question, [h.text for h in hits], reserve=self.settings.max_new_tokens
        )
        streamer = TextIteratorStreamer(
            self.backend.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        result: dict = {}

        def work() -> None:
            try:
                result["drafts"] = self.backend.generate([prompt], streamer=streamer)
            except BaseException as exc:  # re-raised in the caller's thread
                result["error"] = exc
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        text = ""
        for piece in streamer:
            text += piece
            yield text
        thread.join()
        if "error" in result:
            raise result["error"]
        used = [hits[i] for i in placed]
        yield self._finish(question, result["drafts"][0], used, signals,
                           (time.perf_counter() - start) * 1000)  # fmt: skip

    def retrieval_signals(self, questions: Sequence[str]) -> list[Signals]:
        """The answer-independent signals (top_score, margin, coverage, corpus_coverage) of each
        question: what the abstention gate is fitted on, without generating anything."""
        return [retrieval_only(self._retrieve(question)[1]) for question in questions]

    def gated_out(self, questions: Sequence[str]) -> list[bool]:
        """Which questions the abstention gate declines before generating (retrieval only)."""
        return [self.calibration.gates_out(s) for s in self.retrieval_signals(questions)]

    def _retrieve(
        self, question: str, k: int | None = None, mode: str = "hybrid", scope=None
    ) -> tuple[list, tuple[float, float, float, float]]:
        """The ``k`` contexts and the retrieval-side signals. Coverage looks further than the
        contexts (``confidence.coverage_chunks``): an answerable question's specific word often
        sits in a passage just below them, an unanswerable one's in none."""
        k = k or self.settings.context_chunks
        wide = max(k, self.settings.confidence.coverage_chunks)
        if scope is None:  # (plain calls: retrievers written before scopes keep working)
            hits = self.retriever.search(question, k=wide, mode=mode)
            dense = [s for _, s in self.retriever.dense_search(question, 2)]
        else:
            hits = self.retriever.search(question, k=wide, mode=mode, scope=scope)
            dense = [s for _, s in self.retriever.dense_search(question, 2, scope)]
        top = dense[0] if dense else 0.0
        margin = top - dense[1] if len(dense) > 1 else top
        bm25 = self.retriever.bm25
        coverage = _coverage(question, tuple(h.text for h in hits), bm25.idf)
        return hits[:k], (top, margin, coverage, corpus_coverage(question, bm25.has_term, bm25.idf))

    def _finish(self, question, draft: Draft, hits, retrieval, latency_ms) -> Answer:
        text = clean_generation(draft.text, question)
        chosen = draft.cited if draft.cited is not None else cite(text, hits)
        top, margin, coverage, in_corpus = retrieval
        answer = Answer(
            text=text,
            citations=list(dict.fromkeys((hits[i].source, hits[i].page_start) for i in chosen)),
            contexts=list(hits),
            confidence_score=0.0,
            latency_ms=latency_ms,
            model=self.model_label,
            raw_text=text,
            signals=Signals(top, margin, draft.likelihood, coverage, draft.abstain_prob, in_corpus),
        )
        return self.decide(answer)

    def model_abstained(self, text: str) -> bool:
        """Whether the answer itself declines. A generator says so in words; the extractive
        system quotes the documents, and a quoted sentence such as "kotexutf.sty 파일을 찾을 수
        없다면 …" is an answer, not an abstention (read as one, it hid right answers, and the
        cold-start gate-stability check counted the flip as the gate moving): it abstains only
        through the gate, or when nothing was retrieved."""
        if isinstance(self.backend, ExtractiveBackend):
            return not text.strip()
        return is_abstention(text, self.settings.abstain_answer)

    def decide(self, answer: Answer) -> Answer:
        """Scores under the current calibration; abstain when the model did or when the
        answerability score is below the threshold (eval_generation re-decides val/test answers
        after fitting)."""
        answerable = self.calibration.answerable(answer.signals)
        abstained = self.model_abstained(answer.raw_text) or answerable < self.calibration.threshold
        return replace(
            answer,
            text=self.settings.abstain_answer if abstained else answer.raw_text,
            citations=[] if abstained else answer.citations,
            confidence_score=self.calibration.score(answer.signals),
            answerable_score=answerable,
            abstained=abstained,
        )


def load_calibration(path: Path, system: str, settings: GeneratorConfig) -> Calibration:
    """The calibration eval_generation fitted for ``system``, or the params defaults."""
    if Path(path).exists():
        data = json.loads(Path(path).read_text(encoding="utf-8")).get(system)
        if data and Calibration.from_dict(data).matches_features():
            return Calibration.from_dict(data)
        if data:
            log.warning("%s was fitted on other confidence signals: re-run `dvc repro "
                        "eval_generation`; using generator.confidence defaults", path)  # fmt: skip
            return Calibration(threshold=settings.confidence.threshold,
                               retrieval_weight=settings.confidence.retrieval_weight)  # fmt: skip
    log.info("no calibration for %s in %s: using generator.confidence defaults", system, path)
    return Calibration(threshold=settings.confidence.threshold,
                       retrieval_weight=settings.confidence.retrieval_weight)  # fmt: skip


SYSTEMS = ("base", "lora", "extractive", "openai")


def engine_for(system: str, params, retriever=None, calibration: Calibration | None = None,
               endpoint: str | None = None, model_name: str | None = None,
               api_key: str | None = None) -> AnswerGenerator:  # fmt: skip
    """The engine behind each system name the CLI and eval_generation use."""
    from pdfqa.retrieval.index import Retriever

    paths, gc = params.paths, params.generator
    if system not in SYSTEMS:
        raise PdfqaError(f"unknown system {system!r}; choose one of {', '.join(SYSTEMS)}")
    retriever = retriever or Retriever.from_dir(paths.index, base_dir=paths.base_models)
    if calibration is None:
        calibration = load_calibration(paths.calibration, system, gc)
    common = {"retriever": retriever, "settings": gc, "calibration": calibration,
              "base_dir": paths.base_models, "label": system}  # fmt: skip
    if system == "extractive":
        return AnswerGenerator(ModelType.EXTRACTIVE, **common)
    if system == "openai":
        return AnswerGenerator(ModelType.OPENAI_COMPATIBLE, model_name or gc.base_model,
                               endpoint=endpoint, api_key=api_key, **common)  # fmt: skip
    adapter = paths.generator_adapter if system == "lora" else None
    if adapter is not None and not (adapter / "adapter_config.json").exists():
        raise PdfqaError(f"no LoRA adapter in {adapter}: run `dvc repro train_generator`")
    return AnswerGenerator(ModelType.HUGGINGFACE, model_name or gc.base_model, adapter, **common)
