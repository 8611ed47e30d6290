"""Scale benchmark: the real corpus among synthetic distractor documents, at several corpus sizes.

    python -m evals.bench_scale [--sizes 1000 10000 100000] [--out evals/reports/scale.md]
                                [--before earlier.json]

For each size, a temporary data folder gets the bundled corpus (ingested for real, vectors from the
embedding cache) plus synthetic documents of 25 chunks each, built from the corpus's own sentences
recombined, with random document types and dates. Synthetic vectors are not embedded (100,000
chunks would take the model about an hour here): each is the mean of the vectors of the chunks its
sentences came from plus Gaussian noise, normalised, so distractors sit close to the real passages.
Every figure that depends on them is labelled so in the report.

Measured per size: embedding throughput (a sample of synthetic chunks through the real model) and
indexing throughput (store writes, lexical index build) separately; re-ingest of one changed
corpus document (new generation, embedding, store and lexical update, switch); query latency p50/p95
over the dev and holdout questions (85, after one warm pass) for retrieval alone and for a full
answer, without and with a type+date filter; dev-set recall@5; disk size; and, in a child process
started from nothing, time to the first answer and the peak RSS after 30 answers. The same run
measures a plain LangChain + Chroma baseline on the same vectors (the real documents split with
RecursiveCharacterTextSplitter, default Chroma collection, dense top-5) and reports our latency and
recall as ratios to it.

Writes a Markdown table, a JSON file of the figures and a PNG chart next to ``--out``. Nothing here
asserts on time.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evals.metrics import evaluate, norm, relevant
from evals.runner import read_jsonl, run_questions
from ingest.pipeline import Manifest
from kb.config import Settings
from kb.service import KnowledgeBase
from kb.types import Chunk, DocumentMeta, SearchFilter

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "evals" / "questions"
TYPES = ("forløbsbeskrivelse", "central udmelding", "anmodning", "afrapporteringsskema", "sagsfremstilling",
         "vejledning", "notat")
FILTER = SearchFilter(doc_types=("anmodning", "sagsfremstilling", "forløbsbeskrivelse"), date_from="2019")
CHUNKS_PER_DOC = 25
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _settings(data: Path, corpus: Path) -> Settings:
    return Settings(data_dir=data, corpus_dir=corpus)


def _percentiles(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def _timed(fn, items) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - started) * 1000)
    return out


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _real(kb: KnowledgeBase) -> tuple[list[Chunk], np.ndarray]:
    got = kb.store._collection.get(include=["embeddings", "documents", "metadatas"])
    chunks = [Chunk.from_store(i, t, m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]
    return chunks, np.asarray(got["embeddings"], dtype=np.float32)


def synthetic(real: list[Chunk], vectors: np.ndarray, n: int, seed: int = 7, embed=None):
    """``n`` distractor chunks in batches of (chunks, vectors): corpus sentences recombined. The
    vectors are derived from the real ones, or embedded by ``embed`` (texts -> array) when given."""
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    # A sentence holding an eval question's evidence is left out, so a distractor is never a right answer.
    evidence = [norm(e) for name in sorted(QUESTIONS.glob("*.jsonl")) for q in read_jsonl(name)
                for e in q.get("evidence") or []]
    sentences = [(i, s) for i, c in enumerate(real) for s in _SENTENCE.split(c.text)
                 if len(s) > 30 and not any(e in norm(s) for e in evidence)]
    words = sorted({w for _, s in sentences for w in s.split() if w.isalpha() and len(w) > 6})
    batch: list[Chunk] = []
    batch_vectors: list[np.ndarray] = []
    meta = None
    for i in range(n):
        doc, index = divmod(i, CHUNKS_PER_DOC)
        if index == 0:
            year = rng.randint(2008, 2026)
            meta = DocumentMeta(doc_id=f"synthetic/{doc:06d}", source=f"synthetic/{doc:06d}.txt",
                                title="Notat om " + " ".join(rng.sample(words, 3)), doc_type=rng.choice(TYPES),
                                date=f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        picked = [rng.choice(sentences) for _ in range(rng.randint(3, 6))]
        text = " ".join(s for _, s in picked)
        mean = vectors[[j for j, _ in picked]].mean(axis=0) + noise.normal(0, 0.02, vectors.shape[1])
        batch.append(Chunk(chunk_id=f"{meta.doc_id}#{index:04d}", meta=meta, text=text, section="", start=0,
                           end=len(text), index=index))
        batch_vectors.append((mean / np.linalg.norm(mean)).astype(np.float32))
        if len(batch) == 5000 or i == n - 1:
            yield batch, (embed([c.text for c in batch]) if embed else np.stack(batch_vectors))
            batch, batch_vectors = [], []


def _questions() -> tuple[list[dict], list[str]]:
    dev = [q for q in read_jsonl(QUESTIONS / "dev.jsonl") if q.get("evidence")]
    asked = [q["question"] for name in ("dev.jsonl", "holdout.jsonl") for q in read_jsonl(QUESTIONS / name)]
    return dev, asked


def _recall(search, dev: list[dict]) -> float:
    """Share of questions with an evidence passage of a real document among the first five."""
    return sum(any(relevant(text, q["evidence"]) for cid, text in search(q["question"])[:5]
                   if not cid.startswith("synthetic/")) for q in dev) / len(dev)


def _child(data: Path, corpus: Path, started: float) -> None:
    """A process like the chat's: load, answer one question (cold), then 30 more; print figures."""
    kb = KnowledgeBase(_settings(data, corpus))
    _, asked = _questions()
    kb.ask(asked[0])
    first = time.time() - started
    for q in asked[1:31]:
        kb.ask(q)
    print(json.dumps({"cold_start_s": first, "rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak RSS. Not getrusage: Linux carries ru_maxrss over from the parent at fork,
    so a child started by a big process would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _baseline(kb: KnowledgeBase, corpus: Path, work: Path, batches, dev: list[dict], asked: list[str]) -> dict:
    """A plain LangChain + Chroma retriever: character splitter, default collection, dense top-5."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    client = chromadb.PersistentClient(path=str(work / "baseline"), settings=ChromaSettings(anonymized_telemetry=False))
    store = Chroma(collection_name="baseline", embedding_function=kb.embeddings, client=client)
    splitter = RecursiveCharacterTextSplitter()
    texts = [t for p in sorted(corpus.glob("*.txt")) for t in splitter.split_text(p.read_text(encoding="utf-8"))]
    store.add_texts(texts)
    for chunks, vectors in batches():
        for i in range(0, len(chunks), 1000):
            part = chunks[i:i + 1000]
            store._collection.upsert(ids=[c.chunk_id for c in part], embeddings=vectors[i:i + 1000],
                                     documents=[c.text for c in part])
    vectors = {q: kb.embeddings.embed_query(q) for q in asked}

    def search(q: str) -> list[tuple[str, str]]:
        return [(d.id or "", d.page_content) for d in store.similarity_search_by_vector(vectors[q], k=5)]

    search(asked[0])
    p50, p95 = _percentiles(_timed(search, asked))
    return {"recall5": _recall(search, dev), "retrieve_p50": p50, "retrieve_p95": p95}


def measure(size: int, work: Path, embedded: bool = False) -> dict:
    corpus, data = work / "corpus", work / "data"
    shutil.copytree(ROOT / "corpus", corpus)
    data.mkdir()
    cache = Settings().embedding_cache_path
    if cache.exists():  # the real documents' vectors come from the developer's cache when it has them
        shutil.copy2(cache, _settings(data, corpus).embedding_cache_path)
    kb = KnowledgeBase(_settings(data, corpus))
    kb.ingest()
    real, real_vectors = _real(kb)
    n = max(0, size - len(real))
    row: dict = {"size": len(real) + n, "synthetic": n, "embedded": embedded}

    def batches():
        return synthetic(real, real_vectors, n, embed=kb.embeddings.embed_array if embedded else None)

    sample = [c.text for c in next(synthetic(real, real_vectors, n), ([], None))[0][:320]]  # >= 256: the runtime ingest uses
    # The runtime ingest uses for large batches loads (and is converted, the first time) outside the timing.
    kb.embeddings.embed_documents([f"opvarmning {i}" for i in range(len(sample))])
    started = time.perf_counter()
    kb.embeddings.embed_documents(sample)
    row["embed_per_s"] = len(sample) / (time.perf_counter() - started) if sample else None

    generation = kb.generations.current()
    manifest = Manifest(generation.manifest_path)
    written, started = 0, time.perf_counter()
    for chunks, vectors in batches():
        kb.store.upsert(chunks, vectors.tolist())
        for doc in sorted({c.meta.doc_id for c in chunks}):
            ids = [c.chunk_id for c in chunks if c.meta.doc_id == doc]
            manifest.documents[f"synthetic://{doc}"] = {"hash": "-", "source": doc + ".txt", "chunk_ids": ids,
                                                        "title": "synthetic"}
        written += len(chunks)
    manifest.save()
    row["store_write_per_s"] = written / (time.perf_counter() - started) if written else None

    shutil.rmtree(generation.lexical_dir, ignore_errors=True)
    kb = KnowledgeBase(_settings(data, corpus))
    started = time.perf_counter()
    kb.warm_up()  # no lexical index: built from the store
    row["lexical_build_s"] = time.perf_counter() - started
    row["disk_store_mb"] = _du(generation.chroma_dir) / 1e6
    row["disk_lexical_mb"] = _du(generation.lexical_dir) / 1e6

    dev, asked = _questions()
    vectors = {q: kb.embeddings.embed_query(q) for q in asked}  # retrieval is timed without the query's embedding
    for flt_name, flt in (("", SearchFilter()), ("_filtered", FILTER)):
        for q in asked:
            kb.ask(q, flt=flt)  # warm
        p50, p95 = _percentiles(_timed(lambda q, f=flt: kb.retriever.retrieve(q, vectors[q], 10, f), asked))
        row[f"retrieve{flt_name}_p50"], row[f"retrieve{flt_name}_p95"] = p50, p95
        p50, p95 = _percentiles(_timed(lambda q, f=flt: kb.ask(q, flt=f), asked))
        row[f"answer{flt_name}_p50"], row[f"answer{flt_name}_p95"] = p50, p95
    row["recall5"] = evaluate(dev, run_questions(kb, dev)).metrics["recall@5"]  # as `kb eval` counts it
    row["recall5_retriever"] = _recall(
        lambda q: [(h.chunk.chunk_id, h.chunk.text) for h in kb.retriever.retrieve(q, vectors[q], 5)], dev)

    changed = corpus / sorted(p.name for p in corpus.glob("*.txt"))[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nTilføjet afsnit: kommunen orienterer "
                       "regionen om ændringer i indsatsen for udsatte gravide inden for fire uger.\n",
                       encoding="utf-8")
    started = time.perf_counter()
    report = kb.ingest()
    row["reingest_one_s"] = time.perf_counter() - started
    row["reingest_updated"] = report.updated
    started = time.perf_counter()
    kb.ask(asked[0])
    row["first_answer_after_switch_s"] = time.perf_counter() - started

    started = time.time()
    child = subprocess.run([sys.executable, "-m", "evals.bench_scale", "--child", str(data), str(corpus),
                            str(started)], capture_output=True, text=True, check=True, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    row.update(json.loads(child.stdout.strip().splitlines()[-1]))
    base = _baseline(kb, corpus, work, batches, dev, asked)
    row.update({f"baseline_{k}": v for k, v in base.items()})
    return row


COLUMNS = [
    ("size", "chunks", "{:,}"), ("embed_per_s", "embedding, chunks/s", "{:.0f}"),
    ("store_write_per_s", "store writes, chunks/s", "{:.0f}"), ("lexical_build_s", "lexical build, s", "{:.1f}"),
    ("reingest_one_s", "re-ingest 1 doc, s", "{:.1f}"), ("first_answer_after_switch_s", "1st answer after, s", "{:.2f}"),
    ("retrieve_p50", "retrieval p50 ms", "{:.0f}"), ("retrieve_p95", "retrieval p95 ms", "{:.0f}"),
    ("retrieve_filtered_p50", "filtered p50 ms", "{:.0f}"), ("retrieve_filtered_p95", "filtered p95 ms", "{:.0f}"),
    ("answer_p50", "answer p50 ms", "{:.0f}"), ("answer_p95", "answer p95 ms", "{:.0f}"),
    ("answer_filtered_p50", "filtered answer p50 ms", "{:.0f}"),
    ("answer_filtered_p95", "filtered answer p95 ms", "{:.0f}"),
    ("cold_start_s", "cold start to 1st answer, s", "{:.1f}"), ("rss_mb", "app peak RSS, MB", "{:.0f}"),
    ("disk_store_mb", "store on disk, MB", "{:.0f}"), ("disk_lexical_mb", "lexical on disk, MB", "{:.0f}"),
    ("recall5", "dev recall@5 (as kb eval)", "{:.3f}"), ("recall5_retriever", "dev recall@5, retriever alone", "{:.3f}"),
    ("baseline_recall5", "baseline recall@5", "{:.3f}"),
    ("baseline_retrieve_p95", "baseline retrieval p95 ms", "{:.0f}"),
]


def _cell(row: dict, key: str, fmt: str) -> str:
    value = row.get(key)
    return "–" if value is None else fmt.format(value)


def table(rows: list[dict], label: str) -> str:
    head = "| figure | " + " | ".join(f"{label} {r['size']:,}" for r in rows) + " |"
    lines = [head, "|---|" + "---|" * len(rows)]
    for key, name, fmt in COLUMNS[1:]:
        lines.append(f"| {name} | " + " | ".join(_cell(r, key, fmt) for r in rows) + " |")
    ratios = [(r["retrieve_p95"] / r["baseline_retrieve_p95"], r["recall5_retriever"] / r["baseline_recall5"])
              if r.get("baseline_retrieve_p95") and r.get("baseline_recall5") else None for r in rows]
    lines.append("| retrieval p95 / baseline | " + " | ".join("–" if x is None else f"{x[0]:.2f}" for x in ratios) + " |")
    lines.append("| recall@5 / baseline | " + " | ".join("–" if x is None else f"{x[1]:.2f}" for x in ratios) + " |")
    return "\n".join(lines)


def chart(rows: list[dict], before: list[dict], path: Path) -> None:
    """Latency, app memory and re-ingest time against corpus size; dashed: the --before run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("Svartid (p95) mod korpusstørrelse", "ms", [
                  ("retrieve_p95", "søgning"), ("retrieve_filtered_p95", "søgning m. filter"),
                  ("answer_p95", "svar"), ("answer_filtered_p95", "svar m. filter")]),
              ("Chattens hukommelse", "peak RSS, MB", [("rss_mb", "app RSS")]),
              ("Genindlæsning af ét dokument og koldstart", "s", [("reingest_one_s", "genindlæsning"),
                                                    ("cold_start_s", "koldstart til 1. svar")])]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for ax, (title, unit, series) in zip(axes, panels, strict=True):
        for colour, (key, name) in enumerate(series):
            for runs, style, label in ((before, "--", "før"), (rows, "-", "efter")):
                if runs:
                    ax.plot([r["size"] for r in runs], [r[key] for r in runs], style, marker="o",
                            color=f"C{colour}", label=f"{name} ({label})")
        ax.set_xscale("log")
        ax.set_xlabel("tekststykker (syntetiske vektorer afledt af rigtige)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "reports" / "scale.md")
    parser.add_argument("--before", type=Path, help="figures of an earlier run (its JSON) for the chart and table")
    parser.add_argument("--label", default="", help="a note on the code measured, e.g. a commit")
    parser.add_argument("--render", action="store_true", help="only write the table and chart from --out's JSON")
    parser.add_argument("--keep", type=Path, help="build each size in KEEP/SIZE and leave it there, for profiling")
    parser.add_argument("--embedded", action="store_true", help="embed the distractors with the model instead of "
                        "deriving their vectors (about 8 minutes per 10,000 chunks here)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(Path(args.child[0]), Path(args.child[1]), float(args.child[2]))
        return
    rows = []
    if args.render:
        saved = json.loads(args.out.with_suffix(".json").read_text(encoding="utf-8"))
        rows, args.label = saved["rows"], args.label or saved["label"]
    for size in [] if args.render else args.sizes:
        if args.keep:
            shutil.rmtree(args.keep / str(size), ignore_errors=True)
            (args.keep / str(size)).mkdir(parents=True)
            rows.append(measure(size, args.keep / str(size), args.embedded))
        else:
            with tempfile.TemporaryDirectory(prefix="kb-scale-") as tmp:
                rows.append(measure(size, Path(tmp), args.embedded))
        print(json.dumps(rows[-1]), flush=True)
    before = json.loads(args.before.read_text(encoding="utf-8"))["rows"] if args.before else []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.render:
        args.out.with_suffix(".json").write_text(json.dumps({"label": args.label, "rows": rows}, indent=1),
                                                 encoding="utf-8")
    chart(rows, before, args.out.with_suffix(".png"))
    parts = [f"# Scale benchmark ({args.label or 'this checkout'})", "", table(rows, "")]
    if before:
        parts += ["", "Before (the earlier run given with --before):", "", table(before, "")]
    args.out.write_text("\n".join(parts) + "\n", encoding="utf-8")
    print("\n".join(parts))


if __name__ == "__main__":
    main()
