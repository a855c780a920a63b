"""The retriever: fine-tuned Korean embedder, FAISS + BM25 index, hybrid search, evaluation.

``pairs`` and ``train`` fine-tune the embedder (``train_embedder``), ``index`` builds and
searches the dense + BM25 index (``index``; ``Retriever`` is what the engine, the CLI and the
app query), ``metrics`` and ``evaluate`` score four systems on the test split
(``eval_retrieval``). Korean BM25 itself lives in ``pdfqa.bm25``: QA filtering and answer
confidence use it too.
"""

from pdfqa.retrieval.evaluate import SYSTEMS, RetrievalEvaluation, evaluate_retrieval
from pdfqa.retrieval.index import (
    Hit,
    Retriever,
    build_faiss,
    encode_passages,
    encode_queries,
    rrf,
    weighted_fusion,
)
from pdfqa.retrieval.metrics import mean_metrics, query_metrics
from pdfqa.retrieval.pairs import Pair, build_dataset, mine_negatives, training_pairs
from pdfqa.retrieval.train import TrainedEmbedder, train_embedder

__all__ = [
    "SYSTEMS",
    "Hit",
    "Pair",
    "RetrievalEvaluation",
    "Retriever",
    "TrainedEmbedder",
    "build_dataset",
    "build_faiss",
    "encode_passages",
    "encode_queries",
    "evaluate_retrieval",
    "mean_metrics",
    "mine_negatives",
    "query_metrics",
    "rrf",
    "train_embedder",
    "training_pairs",
    "weighted_fusion",
]
