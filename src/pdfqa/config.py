"""Typed view of ``params.yaml``.

``params.yaml`` is the single source of configuration: DVC reads it to decide what to re-run,
and every stage builds these objects from it once. Unknown keys are rejected so a typo in
params fails loudly instead of silently falling back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pdfqa.errors import PdfqaError

DEFAULT_PARAMS = Path("params.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Paths(_Strict):
    pdfs: Path = Path("data/pdfs")
    pages: Path = Path("data/interim/pages.jsonl")
    ingest_report: Path = Path("data/interim/ingest_report.json")
    chunks: Path = Path("data/processed/chunks.jsonl")
    base_models: Path = Path("models/base")
    human_qa: Path = Path("data/qa/human.jsonl")
    qa_dir: Path = Path("data/qa")
    synthetic_qa: Path = Path("data/qa/synthetic.jsonl")
    data_docs: Path = Path("reports/data_quality")
    data_quality_metrics: Path = Path("metrics/data_quality.json")
    embedder: Path = Path("models/embedder")
    corpus_vectors: Path = Path("models/corpus_vectors")  # passage vectors train_embedder computed
    index: Path = Path("models/index")
    checkpoints: Path = Path("models/.checkpoints")
    train_embedder_metrics: Path = Path("metrics/train_embedder.json")
    retrieval_metrics: Path = Path("metrics/retrieval.json")
    retrieval_report: Path = Path("reports/retrieval.md")
    plots: Path = Path("plots")
    generator_adapter: Path = Path("models/generator_adapter")
    train_generator_metrics: Path = Path("metrics/train_generator.json")
    calibration: Path = Path("models/calibration.json")
    generation_metrics: Path = Path("metrics/generation.json")
    generation_report: Path = Path("reports/generation.md")
    per_question_retrieval: Path = Path("metrics/per_question/retrieval.jsonl")
    per_question_generation: Path = Path("metrics/per_question/generation.jsonl")
    bundle: Path = Path("models/bundle")
    bundle_summary: Path = Path("metrics/bundle.json")
    ab_metrics: Path = Path("metrics/ab.json")
    ab_report: Path = Path("reports/ab.md")
    registry_cache: Path = Path("models/.registry")  # bundles fetched from the registry, by version
    feedback: Path = Path("data/feedback/feedback.jsonl")  # the app's 👍/👎 and corrections
    feedback_reviews: Path = Path(
        "data/feedback/reviews.jsonl"
    )  # `pdfqa feedback review` decisions
    hard_questions: Path = Path("data/qa/hard_questions.jsonl")  # 👎 without a fix: eval-only
    app_dir: Path = Path(
        "logs/app"
    )  # the app's monitoring database, page images, uploads in flight
    uploads: Path = Path("data/feedback/uploads.jsonl")  # PDFs users uploaded in the app
    watch_log: Path = Path("logs/watch.jsonl")  # `pdfqa watch`: one JSON line per event and run

    def qa_split(self, split: str) -> Path:
        return self.qa_dir / f"{split}.jsonl"


class IngestConfig(_Strict):
    engine: Literal["local", "ray"] = Field(
        "local",
        description="local: a process pool | ray: Ray Data tasks (a cluster via RAY_ADDRESS)",
    )
    workers: int = Field(2, ge=1, description="processes extracting files in parallel")
    strict: bool = Field(False, description="any skipped file or page problem fails the stage")
    min_page_chars: int = Field(
        10, ge=0, description="pages with fewer text characters are flagged 'no text layer'"
    )
    header_footer_min_pages: int = Field(
        3, ge=2, description="a top/bottom line repeated on this many pages is a running header"
    )
    header_footer_lines: int = Field(
        2, ge=0, description="how many lines at the top and bottom of a page may be headers"
    )


class ChunkConfig(_Strict):
    max_tokens: int = Field(200, ge=8)
    overlap_tokens: int = Field(40, ge=0)
    min_tokens: int = Field(
        8, ge=1, description="a smaller tail chunk is merged into its neighbour"
    )
    splitter: Literal["kiwi", "regex"] = "kiwi"
    tokenizer: Literal["kiwi", "whitespace", "embedder"] = "kiwi"

    @model_validator(mode="after")
    def _overlap_below_max(self) -> ChunkConfig:
        if self.overlap_tokens >= self.max_tokens:
            raise ValueError(
                f"chunk.overlap_tokens ({self.overlap_tokens}) must be smaller than "
                f"chunk.max_tokens ({self.max_tokens})"
            )
        if self.min_tokens > self.max_tokens:
            raise ValueError("chunk.min_tokens must not exceed chunk.max_tokens")
        return self


class QAConfig(_Strict):
    split_by: Literal["section", "document"] = "section"
    section_pages: int = Field(2, ge=1, description="pages per contiguous section when splitting")
    val_fraction: float = Field(0.2, ge=0, lt=1)
    test_fraction: float = Field(0.2, gt=0, lt=1)
    min_overlap: float = Field(
        0.8, gt=0, le=1, description="fallback evidence match: best partial character overlap"
    )

    @model_validator(mode="after")
    def _fractions(self) -> QAConfig:
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("qa.val_fraction + qa.test_fraction must leave room for train")
        return self

    @property
    def fractions(self) -> dict[str, float]:
        return {"train": 1 - self.val_fraction - self.test_fraction,
                "val": self.val_fraction, "test": self.test_fraction}  # fmt: skip


class IctConfig(_Strict):
    remove_sentence_prob: float = Field(0.9, ge=0, le=1)
    min_chars: int = Field(15, ge=1)
    max_chars: int = Field(200, ge=1)
    min_hangul_ratio: float = Field(0.5, ge=0, le=1)
    max_per_chunk: int = Field(2, ge=1)


class LlmSynthConfig(_Strict):
    max_chunks: int = Field(8, ge=0, description="cap: the CPU default model is slow and weak")
    questions_per_chunk: int = Field(2, ge=1)
    max_new_tokens: int = Field(80, ge=8)
    context_chars: int = Field(600, ge=50)
    min_overlap: float = Field(
        0.5, ge=0, le=1, description="share of question morphemes in the chunk"
    )
    round_trip_k: int = Field(
        5, ge=1, description="the chunk must be in BM25's top k for its question"
    )


class SynthQAConfig(_Strict):
    generators: list[Literal["ict", "llm"]] = ["ict"]
    ict: IctConfig = IctConfig()
    llm: LlmSynthConfig = LlmSynthConfig()


class ValidateConfig(_Strict):
    min_corpus_hangul_ratio: float = Field(0.3, ge=0, le=1)
    max_page_mojibake_ratio: float = Field(0.2, ge=0, le=1)
    min_train: int = Field(50, ge=0)
    min_val: int = Field(10, ge=0)
    min_test: int = Field(20, ge=0)


class TrainProfile(_Strict):
    learning_rate: float = Field(2e-5, gt=0)
    batch_size: int = Field(16, ge=2)
    epochs: float = Field(3, gt=0)
    warmup_steps: int = Field(100, ge=0)
    max_seq_length: int = Field(512, ge=16)
    eval_steps: int = Field(500, ge=1)


class RetrieverConfig(_Strict):
    base_model: str = Field(
        "builtin:multilingual-e5-small", description="builtin:<name>, local dir or hub id"
    )
    profile: Literal["cpu", "gpu"] = "cpu"
    loss: Literal["mnrl", "cosine"] = "mnrl"
    hard_negatives: int = Field(0, ge=0, description="mined negatives per question (mnrl)")
    negatives_per_question: int = Field(2, ge=1, description="label-0.0 negatives (cosine)")
    mining: Literal["bm25", "base"] = "bm25"
    mining_top_k: int = Field(20, ge=1)
    near_duplicate: float = Field(
        0.8, gt=0, le=1, description="skip negatives this similar to the positive"
    )
    use_synthetic: bool = True
    freeze_embeddings: bool = Field(True, description="keep the token embedding matrix fixed")
    freeze_layers: int = Field(
        0, ge=0, description="also keep the embeddings block and this many lowest layers fixed"
    )
    mnrl_scale: float = Field(
        100.0, gt=0, description="similarity scale (1/temperature); e5 was trained at 0.01"
    )
    profiles: dict[str, TrainProfile] = {
        "gpu": TrainProfile(),
        "cpu": TrainProfile(learning_rate=2e-5, batch_size=16, epochs=2, warmup_steps=5,
                            max_seq_length=256, eval_steps=9),
    }  # fmt: skip

    @model_validator(mode="after")
    def _profile_exists(self) -> RetrieverConfig:
        if self.profile not in self.profiles:
            raise ValueError(f"retriever.profile {self.profile!r} is not in retriever.profiles")
        return self

    @property
    def training(self) -> TrainProfile:
        return self.profiles[self.profile]


class IndexConfig(_Strict):
    store: Literal["faiss", "qdrant"] = Field(
        "faiss",
        description="faiss + bm25s files in the index dir | qdrant (local mode or a server)",
    )
    engine: Literal["local", "ray"] = Field(
        "local", description="who embeds the chunks: this process | a Ray Data actor pool"
    )
    dense: Literal["flat", "ivf", "ivfpq", "hnsw"] = "flat"
    ivf_nlist: int = Field(64, ge=1)
    ivf_nprobe: int = Field(8, ge=1, description="inverted lists visited per query (ivf, ivfpq)")
    pq_m: int = Field(16, ge=1, description="ivfpq: bytes per vector (must divide the dimension)")
    hnsw_m: int = Field(32, ge=4)
    hnsw_ef_search: int = Field(64, ge=1)
    mmap: bool = Field(False, description="open the saved FAISS index memory-mapped (read-only)")
    qdrant_url: str | None = Field(
        None, description="Qdrant server; null: local mode in the index dir"
    )
    qdrant_collection: str = "pdfqa"
    ray_actors: int = Field(1, ge=1, description="index.engine ray: embedding actors")
    bm25_k1: float = Field(1.5, gt=0)
    bm25_b: float = Field(0.75, ge=0, le=1)
    fusion: Literal["rrf", "weighted"] = "rrf"
    rrf_k: int = Field(60, ge=1)
    dense_weight: float = Field(0.5, ge=0, le=1)
    candidates: int = Field(50, ge=1, description="per-ranker depth fused in hybrid search")
    reranker: str | None = Field(None, description="cross-encoder model ref; null = off")
    learned_fusion: bool = Field(
        True, description="the index stage fits a model on val that re-orders hybrid's top results"
    )
    learned_fusion_top: int = Field(
        5, ge=2, description="how many first hybrid results it re-orders"
    )


class EvalRetrievalConfig(_Strict):
    ks: list[int] = [1, 3, 5, 10]
    bootstrap: int = Field(1000, ge=100)


class WandbConfig(_Strict):
    mode: Literal["offline", "online", "disabled"] = "offline"
    project: str = "pdfqa"
    dir: Path = Path("wandb")


GUIDE_TEMPLATE = (
    "다음은 문서의 내용입니다:\n\n{context}\n\n질문: {question}\n\n"
    "위 문서 내용을 바탕으로 정확하고 도움이 되는 답변을 제공해주세요.\n\n답변: {answer}"
)


class LoraSettings(_Strict):
    r: int = Field(8, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    target_modules: list[str] = ["q_proj", "v_proj"]
    qlora_extra_modules: list[str] = Field(
        ["k_proj", "o_proj"], description="also adapted when quantization is 4bit"
    )


class GeneratorProfile(_Strict):
    epochs: float = Field(3, gt=0)
    batch_size: int = Field(2, ge=1)
    grad_accum: int = Field(8, ge=1)
    learning_rate: float = Field(1e-4, gt=0)
    warmup_steps: int = Field(100, ge=0)
    eval_steps: int = Field(
        500, ge=1, description="evaluate and checkpoint every N optimizer steps"
    )
    save_total_limit: int = Field(2, ge=1)
    eval_examples: int | None = Field(
        None,
        ge=1,
        description="val loss on this many val examples (a fixed, seeded subset; None: all)",
    )
    precision: Literal["auto", "fp32"] = Field(
        "auto",
        description="auto: bf16 mixed precision where the hardware computes bf16 natively "
        "(CUDA, or a CPU with AVX512-BF16/AMX: ~2x faster LoRA steps), fp16 on older GPUs",
    )


class ConfidenceConfig(_Strict):
    """How sure the engine is that its answer is supported; below ``threshold`` it abstains.
    eval_generation fits the combination on val and writes it to ``paths.calibration``; these
    are the defaults used before that file exists."""

    retrieval_weight: float = Field(0.5, ge=0, le=1, description="vs generation likelihood")
    threshold: float = Field(0.35, ge=0, le=1)
    coverage_chunks: int = Field(
        10, ge=1, description="hybrid hits the question-coverage signal looks at (≥ context_chunks)"
    )
    gate_features: list[Literal["top_score", "margin", "likelihood", "coverage", "abstain_prob",
                                "corpus_coverage"]] = Field(
        ["top_score", "margin", "coverage", "corpus_coverage"], min_length=1,
        description="signals the abstention gate uses (retrieval-side ones are shared by every system)",
    )  # fmt: skip
    gate_data: Literal["train+val", "val"] = Field(
        "train+val", description="questions the gate is fitted on (never test)"
    )
    gate_folds: int = Field(5, ge=2, description="cross-validation folds choosing its L2 strength")
    gate_resamples: int = Field(
        1000, ge=100, description="bootstrap resamples bagging its threshold"
    )
    gate_false_abstention_cost: float = Field(
        1.0, gt=0, description="a false abstention weighs this many missed abstentions"
    )
    gate_max_false_abstention: float | None = Field(
        None, gt=0, lt=1, description="instead of the cost: the strictest threshold whose "
        "cross-validated false-abstention rate stays at or below this",
    )  # fmt: skip
    gate_budget_quantile: Literal["empirical", "normal"] = Field(
        "empirical", description="with the budget: the answerable questions' cut is their "
        "empirical quantile | the quantile of a normal fitted to their logits (smoother)",
    )  # fmt: skip
    gate_threshold: float | None = Field(
        None, gt=0, lt=1, description="a fixed P(answerable) cut instead of one chosen from the "
        "data (the chosen one's bootstrap CI is still reported)",
    )  # fmt: skip


class ExtractiveConfig(_Strict):
    """How the extractive system picks its answer sentence (generation.engine.ExtractiveBackend)."""

    dense_weight: float = Field(1.0, ge=0, description="embedder cosine vs weighted word coverage")
    rank_penalty: float = Field(0.05, ge=0, description="per passage rank")
    max_answer_chars: int = Field(
        240, ge=0, description="the best sentence is extended with the next ones up to this length"
    )


class GeneratorConfig(_Strict):
    base_model: str = Field(
        "builtin:gemma-3-270m", description="builtin:<name>, local dir or hub id"
    )
    prompt_template: str = GUIDE_TEMPLATE
    abstain_answer: str = "문서에서 답을 찾을 수 없습니다."
    max_length: int = Field(576, ge=64, description="prompt + answer tokens (train and inference)")
    context_chunks: int = Field(3, ge=1, description="chunks offered to the model per question")
    abstain_augment: float = Field(
        0.0,
        ge=0,
        le=1,
        description="share of answerable train questions also shown with "
        "distractors only and the abstention answer",
    )
    quantization: Literal["none", "4bit"] = "none"
    lora: LoraSettings = LoraSettings()
    profile: Literal["cpu", "gpu"] = "cpu"
    profiles: dict[str, GeneratorProfile] = {
        "gpu": GeneratorProfile(),
        "cpu": GeneratorProfile(epochs=2, batch_size=2, grad_accum=4, learning_rate=2e-4,
                                warmup_steps=5, eval_steps=14),
    }  # fmt: skip
    max_new_tokens: int = Field(64, ge=1)
    repetition_penalty: float = Field(1.15, ge=1)
    batch_size: int = Field(8, ge=1, description="questions generated together in evaluation")
    restrict_vocabulary: bool = Field(
        True, description="decode only words of the corpus, the prompt and the template "
        "(the LM head is most of a CPU decoding step; see generation.engine.CorpusHead)",
    )  # fmt: skip
    confidence: ConfidenceConfig = ConfidenceConfig()
    extractive: ExtractiveConfig = ExtractiveConfig()

    @model_validator(mode="after")
    def _check(self) -> GeneratorConfig:
        if self.profile not in self.profiles:
            raise ValueError(f"generator.profile {self.profile!r} is not in generator.profiles")
        template = self.prompt_template
        for field in ("{context}", "{question}", "{answer}"):
            if template.count(field) != 1:
                raise ValueError(f"generator.prompt_template must contain {field} exactly once")
        if not template.endswith("{answer}"):
            raise ValueError("generator.prompt_template must end with {answer}")
        return self

    @property
    def training(self) -> GeneratorProfile:
        return self.profiles[self.profile]

    @property
    def target_modules(self) -> list[str]:
        extra = self.lora.qlora_extra_modules if self.quantization == "4bit" else []
        return list(dict.fromkeys([*self.lora.target_modules, *extra]))


class EvalGenerationConfig(_Strict):
    systems: list[Literal["base", "lora", "extractive"]] = ["base", "lora", "extractive"]
    test_only: list[Literal["base", "lora", "extractive"]] = Field(
        [],
        description="systems compared on test but never served: no val pass, no fitted confidence",
    )
    bootstrap: int = Field(1000, ge=100)
    latency_samples: int = Field(
        8, ge=1, description="single-question answer() calls timed per system for p50/p95"
    )
    samples_in_report: int = Field(10, ge=0)
    weights: dict[str, float] = Field(
        {"rouge_l": 0.25, "token_f1": 0.25, "span_hit": 0.2, "faithfulness": 0.15,
         "abstention_f1": 0.15},
        description="overall_system_score = weighted mean of these metrics",
    )  # fmt: skip

    @model_validator(mode="after")
    def _test_only_are_systems(self) -> EvalGenerationConfig:
        if set(self.test_only) - set(self.systems):
            raise ValueError(
                "eval_generation.test_only must name systems in eval_generation.systems"
            )
        if not set(self.systems) - set(self.test_only):
            raise ValueError("eval_generation: at least one system must answer val (test_only)")
        return self


class BundleConfig(_Strict):
    """What stage ``bundle`` packs into ``paths.bundle`` (the registry's artifact)."""

    system: Literal["auto", "lora", "base", "extractive"] = Field(
        "auto", description="auto: the best system on val by overall_system_score"
    )


class ABTestConfig(_Strict):
    """Stage ``ab_test``: this workspace's bundle (challenger) against ``champion_stage``."""

    champion_stage: str = "prod"
    primary: str = "answerable_accuracy"
    secondaries: dict[str, float] = Field(
        {"recall@5": 0.05, "mrr@10": 0.05, "rouge_l": 0.05, "abstention_recall": 0.15,
         "latency_p95": 2000.0},
        description="metric → non-inferiority margin, in the metric's units",
    )  # fmt: skip
    alpha: float = Field(0.05, gt=0, lt=1)
    min_paired: int = Field(20, ge=2, description="fewer paired questions: the test refuses")
    resamples: int = Field(9999, ge=99, description="permutations and bootstrap resamples")


class SmokeQuestion(_Strict):
    question: str = Field(min_length=1)
    answerable: bool = True


class PromotionConfig(_Strict):
    """``pdfqa promote``: the guide's smoke validation before a bundle reaches ``stage``."""

    stage: str = "prod"
    min_confidence: float = Field(0.5, ge=0, le=1)
    smoke: list[SmokeQuestion] = []


class SearchSpace(_Strict):
    """One Optuna dimension: ``choices``, or a ``low``..``high`` range (``log`` scale)."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    int_: bool = Field(False, alias="int")
    choices: list[float | int | str] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SearchSpace:
        if (self.choices is None) == (self.low is None or self.high is None):
            raise ValueError("a search space has either choices or low and high")
        if self.choices is None and self.low > self.high:  # type: ignore[operator]
            raise ValueError("search space low must not exceed high")
        return self


class TuningConfig(_Strict):
    """``pdfqa tune``: search spaces per target, keyed by the params path they set."""

    storage_dir: Path = Path("optuna")
    reports_dir: Path = Path("reports/tuning")
    pruner: Literal["median", "hyperband", "none"] = "median"
    startup_trials: int = Field(5, ge=0, description="trials before the pruner may stop one")
    fusion: dict[str, SearchSpace] = {}
    retriever: dict[str, SearchSpace] = {}
    generator: dict[str, SearchSpace] = {}


class ServeConfig(_Strict):
    """``pdfqa serve``: the Gradio app (limits, queue, UI)."""

    host: str = Field(
        "127.0.0.1", description="bind address; 0.0.0.0 exposes the app to the network"
    )
    port: int = Field(7860, ge=1, le=65535)
    lang: Literal["ko", "en"] = "ko"
    max_file_mb: float = Field(50, gt=0, description="largest PDF an upload may be")
    max_pages: int = Field(500, ge=1, description="uploads with more pages are refused")
    queue_size: int = Field(64, ge=1, description="requests waiting beyond this get 'queue full'")
    ask_concurrency: int = Field(2, ge=1, description="questions answered at the same time")
    upload_concurrency: int = Field(1, ge=1, description="uploads ingested at the same time")
    top_k: int = Field(3, ge=1, le=20, description="chunks retrieved per question (the default)")
    examples: int = Field(4, ge=0, le=10, description="example questions shown, from the corpus")
    monitor_every_s: float = Field(10, gt=0, description="monitoring plots refresh interval")
    ab_seed: int = Field(0, description="salt of the stable session → arm hash of --ab")
    reload_s: float = Field(
        30,
        ge=0,
        description="poll the registry this often; a new version at the served stage "
        "is loaded beside the old one and swapped in (0: never)",
    )
    reload_fetch: bool = Field(
        True,
        description="`git fetch --tags` from origin before each poll (a server's clone "
        "learns of promotions made elsewhere)",
    )


class AlertConfig(_Strict):
    """Thresholds on the app's live metrics: crossing one shows a warning in the Monitoring tab
    and in ``pdfqa monitor``, and posts to ``webhook_url`` once (again when it clears)."""

    window: str = Field("1h", description="the metrics are computed over this window (30m, 6h…)")
    min_requests: int = Field(20, ge=1, description="fewer requests in the window: no verdict")
    max_abstention_rate: float = Field(0.5, ge=0, le=1)
    max_thumbs_down_rate: float = Field(0.3, ge=0, le=1, description="share of rated answers")
    min_ratings: int = Field(5, ge=1, description="fewer 👍/👎 in the window: no 👎 verdict")
    drift_p_value: float = Field(
        0.01, gt=0, lt=1, description="KS test of top-1 scores vs the test split below this"
    )
    webhook_url: str = Field("", description="POST a JSON message here on each change ('' off)")
    webhook_timeout_s: float = Field(5, gt=0)
    check_every_s: float = Field(30, gt=0, description="how often the app evaluates the rules")


class WatchConfig(_Strict):
    """``pdfqa watch``: file events → ``dvc repro``."""

    debounce_s: float = Field(10, ge=0, description="run after this many quiet seconds")
    targets: list[str] = Field([], description="stages to reproduce (empty: the whole pipeline)")
    lock_retries: int = Field(
        12, ge=0, description="retries while another DVC process holds the lock"
    )
    lock_retry_s: float = Field(5, gt=0)
    ignore: list[str] = Field(
        [".*", "*~", "*.tmp", "*.part", "*.swp", "__pycache__"],
        description="file-name patterns never acted on (editors' and atomic writes' temp files)",
    )


class DeployConfig(_Strict):
    """``pdfqa deploy``: what a host does when a stage moves (the deploy workflow calls it)."""

    stage: str = "prod"
    hook: str = Field(
        "",
        description="shell command run after the bundle is fetched, with PDFQA_VERSION, "
        "PDFQA_REV, PDFQA_STAGE and PDFQA_BUNDLE set ('' : fetch only; apps hot-swap themselves)",
    )
    hook_timeout_s: float = Field(600, gt=0)


class TrainLaunchConfig(_Strict):
    """How the two training stages run: one process (default), or ``torchrun`` started by the
    stage itself so that ``dvc repro`` stays one command (see ``pdfqa.distributed``)."""

    launcher: Literal["none", "torchrun"] = "none"
    nproc: int = Field(1, ge=1, description="processes on this node under torchrun (one per GPU)")
    backend: Literal["auto", "gloo", "nccl"] = Field(
        "auto", description="torch.distributed backend; auto: nccl with CUDA, gloo on CPU"
    )
    deepspeed: Path | None = Field(
        None, description="generator only: a DeepSpeed config (configs/deepspeed_zero2.json)"
    )


class Params(_Strict):
    seed: int = 42
    paths: Paths = Paths()
    ingest: IngestConfig = IngestConfig()
    chunk: ChunkConfig = ChunkConfig()
    qa: QAConfig = QAConfig()
    synth_qa: SynthQAConfig = SynthQAConfig()
    validate_: ValidateConfig = Field(ValidateConfig(), alias="validate")
    retriever: RetrieverConfig = RetrieverConfig()
    index: IndexConfig = IndexConfig()
    eval_retrieval: EvalRetrievalConfig = EvalRetrievalConfig()
    wandb: WandbConfig = WandbConfig()
    generator: GeneratorConfig = GeneratorConfig()
    train: TrainLaunchConfig = TrainLaunchConfig()
    eval_generation: EvalGenerationConfig = EvalGenerationConfig()
    bundle: BundleConfig = BundleConfig()
    ab_test: ABTestConfig = ABTestConfig()
    promotion: PromotionConfig = PromotionConfig()
    tuning: TuningConfig = TuningConfig()
    serve: ServeConfig = ServeConfig()
    alerts: AlertConfig = AlertConfig()
    watch: WatchConfig = WatchConfig()
    deploy: DeployConfig = DeployConfig()


def load_params(path: Path | str = DEFAULT_PARAMS) -> Params:
    """Read and validate params; errors name the offending key."""
    path = Path(path)
    if not path.exists():
        raise PdfqaError(f"{path} not found: run from the repository root or pass --params")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PdfqaError(f"{path} is not valid YAML: {exc}") from None
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise PdfqaError(f"invalid {path}: {problems}") from None
