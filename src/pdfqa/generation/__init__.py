"""The answer generator: LoRA/QLoRA training, the answer engine, confidence and evaluation.

``prompt`` renders the guide's template within the token budget, ``examples`` and ``train``
adapt the generator on retrieved contexts (``train_generator``), ``engine`` answers with
citations (HF, extractive or OpenAI-compatible back ends), ``confidence`` scores and gates those
answers, ``metrics``, ``evaluate`` and ``report`` compare the systems (``eval_generation``).
"""

from pdfqa.generation.confidence import Calibration, Signals
from pdfqa.generation.engine import (
    SYSTEMS,
    Answer,
    AnswerGenerator,
    ModelType,
    engine_for,
    load_calibration,
)
from pdfqa.generation.evaluate import GenerationEvaluation, evaluate_generation
from pdfqa.generation.examples import Example, build_examples
from pdfqa.generation.prompt import PromptBuilder, render_prompt
from pdfqa.generation.train import TrainedGenerator, load_trainable, train_generator

__all__ = [
    "SYSTEMS",
    "Answer",
    "AnswerGenerator",
    "Calibration",
    "Example",
    "GenerationEvaluation",
    "ModelType",
    "PromptBuilder",
    "Signals",
    "TrainedGenerator",
    "build_examples",
    "engine_for",
    "evaluate_generation",
    "load_calibration",
    "load_trainable",
    "render_prompt",
    "train_generator",
]
