"""Ingest memory: peak RSS of `kb ingest` for 1, 10 and 100 MB of generated Danish text.

    python -m evals.bench_memory [--mb 1 10 100] [--embedder model|hash|sampled [--model-every N]] [--out evals/reports/ingest-memory.md]

The text is the bundled corpus's sentences recombined into paragraphs under headings, in files of at
most 10 MB (below KB_MAX_FILE_MB). Each size is ingested by a fresh process into a fresh data folder;
its peak RSS comes from the kernel (``wait4``), so it includes the model, Chroma and everything else.
``--embedder model`` runs the real command with the packaged model (about 10 chunks/s here, sentences
included, so 100 MB takes hours); ``--embedder hash`` runs the same pipeline with a deterministic hash
embedder, which measures what the pipeline itself keeps in memory; ``--embedder sampled`` is the hash
run with every ``--model-every``-th batch embedded by the model, which puts the working model in the
same process at 100 MB in well under an hour. The converted model is built once beforehand into
a shared folder, so its one-time conversion is reported on its own. ``--chroma-server`` puts the
vectors in a Chroma server started for each size (``kb store serve`` on a free loopback port), as a
large deployment would: the ingest process then holds no vector index, and the server's own peak is
reported beside it.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILE_MB = 10
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def generate(folder: Path, megabytes: float, seed: int = 11, file_mb: float = FILE_MB) -> int:
    """Files of recombined corpus sentences totalling ``megabytes``; returns the number of files."""
    rng = random.Random(seed)
    sentences = [s for p in sorted((ROOT / "corpus").glob("*.txt"))
                 for s in _SENTENCE.split(p.read_text(encoding="utf-8").replace("\n", " ")) if len(s) > 30]
    folder.mkdir(parents=True, exist_ok=True)
    total, files = int(megabytes * 1_000_000), 0
    while total > 0:
        size = min(total, int(file_mb * 1_000_000))
        parts: list[str] = []
        written = 0
        section = 0
        while written < size:
            if section % 8 == 0:
                parts.append(f"\n## Afsnit {section // 8 + 1}\n")
            paragraph = " ".join(rng.choice(sentences) for _ in range(rng.randint(2, 5)))
            parts.append(paragraph + "\n")
            written += len(paragraph.encode("utf-8")) + 1
            section += 1
        (folder / f"generated_{files:03d}.txt").write_text("".join(parts), encoding="utf-8")
        total -= size
        files += 1
    return files


class _Sampled:
    """The hash embedder, except that every ``every``-th batch is embedded by the packaged model: the
    model is loaded and working in the ingesting process, so its memory is in the peak, at a fraction
    of the hours that embedding all of 100 MB takes here."""

    def __init__(self, model, every: int) -> None:
        from langchain_core.embeddings import DeterministicFakeEmbedding

        self.model, self.every, self.calls = model, every, 0
        self.hash = DeterministicFakeEmbedding(size=384)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return (self.model if self.calls % self.every == 1 else self.hash).embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.hash.embed_query(text)


def _hash_ingest(data: Path, corpus: Path, model_every: int = 0) -> None:
    """The real pipeline with a hash embedder instead of the model (``model_every``: see ``_Sampled``)."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from kb.config import Settings
    from kb.embeddings import CachedEmbeddings, PackagedE5Embeddings
    from kb.service import KnowledgeBase

    settings = Settings(data_dir=data, corpus_dir=corpus)
    inner = (_Sampled(PackagedE5Embeddings(settings.models_dir, "onnx"), model_every) if model_every
             else DeterministicFakeEmbedding(size=384))
    embeddings = CachedEmbeddings(inner, settings.embedding_cache_path)
    report = KnowledgeBase(settings, embeddings=embeddings).ingest()
    print(f"chunks {report.chunks_written}, failed {len(report.failed)}")


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, last output line) of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in out.splitlines() if line.strip()]
    tail = lines[-1] if lines else ""
    if proc.returncode != 0:
        tail = f"exit {proc.returncode}: {tail}"
    return time.perf_counter() - started, usage.ru_maxrss / 1024, tail


def _chroma_server(folder: Path, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """``kb store serve`` on a free loopback port, once it answers."""
    from evals.load import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kb.cli", "store", "serve", "--path", str(folder), "--port",
                             str(port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2)
            return proc, port
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the Chroma server did not start")


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, nargs="+", default=[1, 10, 100])
    parser.add_argument("--embedder", choices=["model", "hash", "sampled"], default="model", help=(
        "sampled: the hash embedder with every --model-every-th batch embedded by the model"))
    parser.add_argument("--model-every", type=int, default=20)
    parser.add_argument("--file-mb", type=float, default=FILE_MB, help="largest generated file (raise "
                        "KB_MAX_FILE_MB to match for files over 25 MB)")
    parser.add_argument("--out", type=Path, help="append the table to this Markdown file")
    parser.add_argument("--chroma-server", action="store_true", help="vectors in a Chroma server, not in the ingest")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _hash_ingest(Path(args.child[0]), Path(args.child[1]), int(args.child[2]))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="kb-memory-") as tmp:
        models = Path(tmp) / "models"
        env = {**os.environ, "KB_MODEL_CACHE": str(models), "PYTHONPATH": str(ROOT)}
        if args.embedder in ("model", "sampled"):
            seconds, rss, _ = _run([sys.executable, "-c", "from kb.e5_convert import packaged_model_dir; "
                                    f"packaged_model_dir(__import__('pathlib').Path({str(models)!r}))"], env)
            rows.append(("one-time model conversion", "–", f"{seconds:.0f}", f"{rss:.0f}", "–", ""))
        for mb in args.mb:
            work = Path(tmp) / f"mb{mb:g}"
            files = generate(work / "corpus", mb, file_mb=args.file_mb)
            run_env = {**env, "KB_DATA_DIR": str(work / "data"), "KB_CORPUS_DIR": str(work / "corpus")}
            server = None
            if args.chroma_server:
                server, port = _chroma_server(work / "chroma-server", env)
                run_env.update(KB_CHROMA_HOST="127.0.0.1", KB_CHROMA_PORT=str(port))
            command = ([sys.executable, "-m", "kb.cli", "ingest"] if args.embedder == "model" else
                       [sys.executable, "-m", "evals.bench_memory", "--child", str(work / "data"), str(work / "corpus"),
                        str(args.model_every if args.embedder == "sampled" else 0)])
            try:
                seconds, rss, tail = _run(command, run_env)
                server_mb = f"{_peak_mb(server.pid):.0f}" if server else "–"
            finally:
                if server:
                    server.terminate()
                    server.wait(timeout=30)
            rows.append((f"{mb:g} MB", str(files), f"{seconds:.0f}", f"{rss:.0f}", server_mb, tail[:120]))
            print(rows[-1], flush=True)
    where = "a Chroma server" if args.chroma_server else "the embedded store"
    table = [f"Ingest memory, embedder: {args.embedder}, vectors in {where}", "",
             "| text | files | seconds | peak RSS, MB | Chroma server peak, MB | last line |", "|---|---|---|---|---|---|"]
    table += [f"| {' | '.join(r)} |" for r in rows]
    print("\n".join(table))
    if args.out:
        with args.out.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(table) + "\n\n")


if __name__ == "__main__":
    main()
