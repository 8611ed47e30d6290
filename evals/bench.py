"""Speed benchmark: ingest throughput, question latency and memory, as figures anyone can rerun.

    python -m evals.bench [--runs 10]

Ingest runs into a fresh temporary store with an empty embedding cache (cold), then again (warm:
nothing to embed). Question latency is the median of several warm runs per question, reported
against a BM25-only baseline measured in the same run.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from kb.config import Settings
from kb.service import KnowledgeBase

QUESTIONS = [
    "Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?",
    "Hvad er formålet med forløbsbeskrivelsen?",
    "Hvem er de centrale aktører i indsatsen?",
    "Hvilke kvinder er ikke omfattet af målgruppen?",
    "Hvad er hovedstaden i Frankrig?",
]


def _latency(kb: KnowledgeBase, runs: int) -> float:
    for q in QUESTIONS:
        kb.ask(q)  # warm
    per_question = []
    for q in QUESTIONS:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            kb.ask(q)
            times.append((time.perf_counter() - started) * 1000)
        per_question.append(statistics.median(times))
    return statistics.median(per_question)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    try:
        settings = Settings(data_dir=tmp / "data", corpus_dir=args.corpus)
        started = time.perf_counter()
        kb = KnowledgeBase(settings)
        load_s = time.perf_counter() - started
        cold = kb.ingest()
        warm = kb.ingest()
        print(f"model+store open: {load_s:.2f} s")
        print(f"ingest cold: {cold.seconds:.2f} s, {cold.chunks_written} chunks "
              f"({cold.chunks_written / cold.seconds:.1f} chunks/s), {cold.embedded} texts embedded "
              f"(chunks + answer sentences)")
        print(f"ingest warm (unchanged): {warm.seconds:.3f} s, {warm.embedded} texts embedded")
        hybrid = _latency(kb, args.runs)
        bm25 = _latency(KnowledgeBase(settings, embeddings=kb.embeddings, store=kb.store, mode="bm25"), args.runs)
        print(f"ask latency, warm, median of {args.runs} runs x {len(QUESTIONS)} questions: hybrid {hybrid:.1f} ms; "
              f"bm25-only baseline {bm25:.1f} ms; ratio {hybrid / bm25:.2f}x")
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
