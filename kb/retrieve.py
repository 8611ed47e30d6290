"""Hybrid retrieval: dense (Chroma) and BM25 candidates, fused, then reranked.

The default fusion ("zscore") standardises each retriever's scores over its own candidates and adds
them, weighted: a retriever that is sure for this question (its top hit stands far above the rest)
moves the fused order, one whose scores are flat barely does. Rank fusion ("rrf") throws that
evidence away, and on the project's question sets it ranked below BM25 alone (README, Retrieval).

Each hit keeps the score it had in every stage (``dense``, ``bm25``, ``fused``, ``rerank``) so that
evaluation and the UI can show why it ranked where it did.
"""
from __future__ import annotations

import statistics
from typing import Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .config import RetrievalSettings
from .lexical import LexicalIndex
from .rerank import Reranker
from .store import VectorStore
from .types import Chunk, Hit, SearchFilter

Mode = Literal["hybrid", "dense", "bm25"]
Fusion = Literal["zscore", "rrf"]
Rankings = dict[str, list[tuple[Chunk, float]]]


def _collect(rankings: Rankings) -> dict[str, Hit]:
    """One hit per chunk, carrying each retriever's score and rank for it."""
    hits: dict[str, Hit] = {}
    for stage, ranking in rankings.items():
        for rank, (chunk, score) in enumerate(ranking, start=1):
            hit = hits.setdefault(chunk.chunk_id, Hit(chunk=chunk, score=0.0))
            hit.scores[stage] = score
            hit.scores[f"{stage}_rank"] = rank
    return hits


def _ordered(hits: dict[str, Hit]) -> list[Hit]:
    fused = sorted(hits.values(), key=lambda h: (-h.score, h.chunk.chunk_id))
    for hit in fused:
        hit.scores["fused"] = hit.score
    return fused


def reciprocal_rank_fusion(rankings: Rankings, k: int, weights: dict[str, float] | None = None) -> list[Hit]:
    """Weighted RRF: score = sum over rankings of weight / (k + rank), rank starting at 1."""
    hits = _collect(rankings)
    for hit in hits.values():
        hit.score = sum((weights or {}).get(stage, 1.0) / (k + hit.scores[f"{stage}_rank"])
                        for stage in rankings if stage in hit.scores)
    return _ordered(hits)


def zscore_fusion(rankings: Rankings, weights: dict[str, float] | None = None) -> list[Hit]:
    """Weighted sum of each retriever's z-scores over its own candidates. A chunk one retriever did
    not return counts as that retriever's lowest candidate, not as zero evidence either way."""
    hits = _collect(rankings)
    for stage, ranking in rankings.items():
        if not ranking:
            continue
        values = [score for _, score in ranking]
        mean, spread = statistics.fmean(values), statistics.pstdev(values) or 1.0
        floor = (min(values) - mean) / spread
        weight = (weights or {}).get(stage, 1.0)
        for hit in hits.values():
            z = (hit.scores[stage] - mean) / spread if stage in hit.scores else floor
            hit.score += weight * z
    return _ordered(hits)


def keep_best(fused: list[Hit], rankings: Rankings, within: int) -> list[Hit]:
    """The fused order with each retriever's first hit moved up to place ``within`` if the fusion put
    it lower: a passage one retriever is surest of stays in sight, however many near-duplicates the
    other retriever's candidates are full of."""
    if within <= 0:
        return fused
    order = list(fused)
    for ranking in rankings.values():
        if not ranking:
            continue
        best = next(h for h in order if h.chunk.chunk_id == ranking[0][0].chunk_id)
        if order.index(best) >= within:
            order.remove(best)
            order.insert(within - 1, best)
    return order


class HybridRetriever:
    def __init__(self, store: VectorStore, lexical: LexicalIndex, reranker: Reranker, settings: RetrievalSettings,
                 mode: Mode = "hybrid") -> None:
        self.store, self.lexical, self.reranker = store, lexical, reranker
        self.candidates, self.rrf_k, self.dense_weight = settings.candidates, settings.rrf_k, settings.dense_weight
        self.fusion: Fusion = settings.fusion
        self.keep_best = settings.keep_best
        self.mode = mode

    def retrieve(self, text: str, vector: list[float] | None, k: int,
                 flt: SearchFilter = SearchFilter()) -> list[Hit]:
        rankings: dict[str, list[tuple[Chunk, float]]] = {}
        if self.mode in ("hybrid", "dense"):
            if vector is None:
                vector = self.store.embeddings.embed_query(text)
            admitted = None if flt.is_empty() else self.lexical.admitted(flt)
            rankings["dense"] = self.store.search(vector, self.candidates, flt, admitted)
        if self.mode in ("hybrid", "bm25"):
            rankings["bm25"] = self.lexical.search(text, self.candidates, flt)
        weights = {"dense": self.dense_weight}
        fused = (zscore_fusion(rankings, weights) if self.fusion == "zscore"
                 else reciprocal_rank_fusion(rankings, self.rrf_k, weights))
        reranked = self.reranker.rerank(text, keep_best(fused, rankings, self.keep_best))
        return reranked[:k]


class KBRetriever(BaseRetriever):
    """The hybrid retriever as a LangChain retriever, for chains and tools that expect one."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    retriever: HybridRetriever
    k: int = 10
    search_filter: SearchFilter = SearchFilter()

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.retriever.retrieve(query, None, self.k, self.search_filter)
        return [Document(page_content=h.chunk.text, id=h.chunk.chunk_id,
                         metadata={**h.chunk.store_metadata(), "scores": dict(h.scores)}) for h in hits]
