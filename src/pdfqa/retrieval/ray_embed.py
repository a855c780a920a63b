"""Passage embeddings from a Ray Data actor pool (``index.engine: ray``).

Each actor loads the embedder once (on a GPU when the cluster has them: ``num_gpus=1`` per
actor) and encodes batches with the same ``encode_passages`` the local path calls; rows carry
their position, so the vectors come back in chunk order whatever actor finished first.
"""

from __future__ import annotations

import numpy as np


class _Encoder:
    def __init__(self, model_dir: str, device: str):
        from pdfqa.models import load_sentence_transformer

        self.model = load_sentence_transformer(model_dir, device=device)

    def __call__(self, batch: dict) -> dict:
        from pdfqa.retrieval.index import encode_passages

        vectors = encode_passages(self.model, [str(t) for t in batch["text"]])
        return {"position": batch["position"], "vector": list(vectors)}


def embed_passages_ray(texts: list[str], model_dir: str, actors: int = 1,
                       batch_size: int = 64) -> np.ndarray:  # fmt: skip
    """L2-normalised passage embeddings, row i for texts[i]."""
    from pdfqa.ray_runtime import ray_session

    with ray_session() as ray:
        gpus = ray.cluster_resources().get("GPU", 0)
        device, per_actor = ("cuda", {"num_gpus": 1}) if gpus else ("cpu", {"num_cpus": 1})
        items = [{"position": i, "text": t} for i, t in enumerate(texts)]
        dataset = ray.data.from_items(items).map_batches(
            _Encoder, fn_constructor_args=(model_dir, device), batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=actors), **per_actor,
        )  # fmt: skip
        rows = dataset.take_all()
    rows.sort(key=lambda row: int(row["position"]))
    return np.stack([np.asarray(row["vector"], dtype=np.float32) for row in rows])
