"""The knowledge base as one object: heavy parts (model, store client, BM25) built once, then
``ask`` runs validate -> condense -> repair -> embed -> retrieve -> answer for each question."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .answer import ExtractiveAnswerer
from .config import Settings
from .embeddings import CachedEmbeddings, build_embeddings
from .glossary import danish_terms
from .lexical import LexicalIndex
from .messages import msg
from .query import SpellingRepair, condense
from .retrieve import HybridRetriever, Mode, build_reranker
from .store import VectorStore
from .text import detect_language
from .types import Answer, Query, SearchFilter

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport

log = logging.getLogger(__name__)


class EmptyStoreError(RuntimeError):
    pass


@dataclass
class DocumentInfo:
    source: str
    title: str
    doc_type: str
    date: str
    issuer: str
    chunks: int


class KnowledgeBase:
    def __init__(self, settings: Settings, embeddings: CachedEmbeddings | None = None,
                 store: VectorStore | None = None, mode: Mode = "hybrid") -> None:
        self.settings = settings
        self.embeddings = embeddings or build_embeddings(settings)
        self.store = store or VectorStore(settings, self.embeddings)
        self.mode = mode

    @cached_property
    def lexical(self) -> LexicalIndex:
        index = LexicalIndex.load(self.settings.lexical_dir)
        if index is None or index.tokens != self.settings.lexical_tokens:
            if self.store.count() == 0:
                raise EmptyStoreError(msg("no_store"))
            index = LexicalIndex.build(list(self.store.iter_chunks()), self.settings.lexical_tokens)
            index.save(self.settings.lexical_dir)
        return index

    @cached_property
    def retriever(self) -> HybridRetriever:
        s = self.settings
        return HybridRetriever(self.store, self.lexical, build_reranker(s.reranker), s.candidates, s.rrf_k, self.mode)

    @cached_property
    def answerer(self) -> ExtractiveAnswerer:
        s = self.settings
        return ExtractiveAnswerer(self.embeddings, self.lexical, s.answer_hits, s.max_answer_sentences,
                                  s.abstain_threshold)

    @cached_property
    def spelling(self) -> SpellingRepair:
        return SpellingRepair(self.lexical)

    def ingest(self, paths: list[Path] | None = None,
               progress: Callable[[int, int, str], None] | None = None) -> "IngestReport":
        """Ingest files or folders (default: the corpus folder) with this knowledge base's settings."""
        from ingest.pipeline import Manifest, ingest

        s = self.settings
        report = ingest(paths or [s.corpus_dir], self.store, self.embeddings, Manifest(s.manifest_path),
                        s.lexical_dir, s.chunk_size, s.chunk_min_size, s.lexical_tokens,
                        **({"progress": progress} if progress else {}))
        self.reload()
        return report

    def reload(self) -> None:
        """Forget derived indexes after an ingest so the next question sees the new documents."""
        for name in ("lexical", "retriever", "answerer", "spelling"):
            self.__dict__.pop(name, None)

    def validate(self, question: str) -> str | None:
        """A message for a question that cannot be asked as typed, else None."""
        language = detect_language(question)
        if not question or not question.strip():
            return msg("empty", language)
        if len(question) > self.settings.max_question_chars:
            return msg("too_long", language, n=len(question), limit=self.settings.max_question_chars)
        return None

    def ask(self, question: str, history: list[str] | None = None, flt: SearchFilter = SearchFilter(),
            k: int | None = None) -> Answer:
        language = detect_language(question or "")
        if (problem := self.validate(question)) is not None:
            return Answer(question=question, text=problem, abstained=True, citations=[], hits=[],
                          language=language, error=problem)
        if self.store.count() == 0:
            raise EmptyStoreError(msg("no_store", language))
        text = self.spelling.repair(condense(question.strip(), [h for h in (history or []) if h.strip()]))
        if language == "en":  # give the Danish lexical index something to match
            text = " ".join([text, *danish_terms(text)])
        vector = self.embeddings.embed_query(text)
        query = Query(question=question, text=text, focus=self.spelling.repair(question.strip()), language=language,
                      vector=tuple(vector))
        hits = self.retriever.retrieve(text, vector, max(k or self.settings.top_k, self.settings.answer_hits), flt)
        return self.answerer.answer(query, hits)

    def documents(self) -> list[DocumentInfo]:
        info: dict[str, DocumentInfo] = {}
        for chunk in self.lexical.chunks:
            m = chunk.meta
            entry = info.setdefault(m.source, DocumentInfo(m.source, m.title, m.doc_type, m.date, m.issuer, 0))
            entry.chunks += 1
        return sorted(info.values(), key=lambda d: d.source)
