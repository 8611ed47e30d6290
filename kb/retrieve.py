"""Hybrid retrieval: dense (Chroma) and BM25 candidates, fused by reciprocal rank fusion, then reranked.

Each hit keeps the score it had in every stage (``dense``, ``bm25``, ``rrf``, ``rerank``) so that
evaluation and the UI can show why it ranked where it did.
"""
from __future__ import annotations

from typing import Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .lexical import LexicalIndex
from .rerank import Reranker
from .store import VectorStore
from .types import Chunk, Hit, SearchFilter

Mode = Literal["hybrid", "dense", "bm25"]


def reciprocal_rank_fusion(rankings: dict[str, list[tuple[Chunk, float]]], k: int,
                           weights: dict[str, float] | None = None) -> list[Hit]:
    """Weighted RRF: score = sum over rankings of weight / (k + rank), rank starting at 1."""
    hits: dict[str, Hit] = {}
    for stage, ranking in rankings.items():
        weight = (weights or {}).get(stage, 1.0)
        for rank, (chunk, score) in enumerate(ranking, start=1):
            hit = hits.setdefault(chunk.chunk_id, Hit(chunk=chunk, score=0.0))
            hit.scores[stage] = score
            hit.scores[f"{stage}_rank"] = rank
            hit.score += weight / (k + rank)
    fused = sorted(hits.values(), key=lambda h: (-h.score, h.chunk.chunk_id))
    for hit in fused:
        hit.scores["rrf"] = hit.score
    return fused


class HybridRetriever:
    def __init__(self, store: VectorStore, lexical: LexicalIndex, reranker: Reranker,
                 candidates: int = 50, rrf_k: int = 60, mode: Mode = "hybrid", dense_weight: float = 1.0) -> None:
        self.store, self.lexical, self.reranker = store, lexical, reranker
        self.candidates, self.rrf_k, self.mode, self.dense_weight = candidates, rrf_k, mode, dense_weight

    def retrieve(self, text: str, vector: list[float] | None, k: int,
                 flt: SearchFilter = SearchFilter()) -> list[Hit]:
        rankings: dict[str, list[tuple[Chunk, float]]] = {}
        if self.mode in ("hybrid", "dense"):
            if vector is None:
                vector = self.store.embeddings.embed_query(text)
            rankings["dense"] = self.store.search(vector, self.candidates, flt)
        if self.mode in ("hybrid", "bm25"):
            rankings["bm25"] = self.lexical.search(text, self.candidates, flt)
        fused = reciprocal_rank_fusion(rankings, self.rrf_k, {"dense": self.dense_weight})
        reranked = self.reranker.rerank(text, fused)
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
