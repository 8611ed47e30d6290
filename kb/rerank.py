"""The rerank stage: a sentence-transformers CrossEncoder reorders the fused top-N.

No cross-encoder ships offline in any package, so the default is no reranking; a deployment that
has one points KB_RERANKER_MODEL at its folder (or at a hub name, with downloads allowed).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Protocol

from .config import RetrievalSettings
from .errors import ConfigError
from .offline import ensure_offline
from .types import Hit


class Reranker(Protocol):
    name: str

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]: ...


class NoReranker:
    name = "none"

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        return hits


class CrossEncoderReranker:
    """Scores (question, passage) pairs for the top ``top_n`` hits; the rest keep their fused order
    below them. Each reranked hit records its score and the stage's latency in ``scores``."""

    def __init__(self, name_or_path: str, top_n: int = 20, allow_download: bool = False) -> None:
        ensure_offline()
        from sentence_transformers import CrossEncoder

        self.name = name_or_path
        self.top_n = top_n
        self._model = CrossEncoder(name_or_path, device="cpu", local_files_only=not allow_download)
        self._lock = threading.Lock()

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        head, tail = hits[:self.top_n], hits[self.top_n:]
        if not head:
            return hits
        started = time.perf_counter()
        with self._lock:
            scores = self._model.predict([(query, h.chunk.text) for h in head], convert_to_numpy=True)
        latency_ms = (time.perf_counter() - started) * 1000
        for hit, score in zip(head, scores, strict=True):
            hit.scores["rerank"] = float(score)
            hit.scores["rerank_ms"] = latency_ms
        return sorted(head, key=lambda h: -h.scores["rerank"]) + tail


def build_reranker(settings: RetrievalSettings, allow_download: bool) -> Reranker:
    name_or_path, top_n = settings.reranker_model, settings.rerank_top_n
    if not name_or_path or name_or_path == "none":
        return NoReranker()
    if not Path(name_or_path).expanduser().is_dir() and not allow_download:
        raise ConfigError(f"KB_RERANKER_MODEL={name_or_path!r} er ikke en mappe med en CrossEncoder-model. "
                         "Et navn fra en model-hub kræver KB_ALLOW_DOWNLOADS=true og netadgang.")
    return CrossEncoderReranker(str(Path(name_or_path).expanduser()) if Path(name_or_path).expanduser().is_dir()
                                else name_or_path, top_n, allow_download)
