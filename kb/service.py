"""The knowledge base as one object: heavy parts (model, store client, BM25) built once, then
``ask`` runs validate -> condense -> repair -> embed -> retrieve -> answer for each question."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.pipeline import IngestReport, Manifest
from ingest.pipeline import ingest as run_ingest

from . import privacy
from .answer import ExtractiveAnswerer
from .config import Settings
from .conversation import Condenser, resolve
from .embeddings import CachedEmbeddings, build_embeddings
from .errors import EmptyStoreError, StoreBusyError
from .glossary import danish_terms
from .intent import SEARCH_HINTS, classify
from .lexical import LexicalIndex
from .messages import msg
from .query import SpellingRepair
from .rerank import build_reranker
from .retrieve import HybridRetriever, Mode
from .store import VectorStore, WriterLock
from .text import detect_language, without_markup
from .types import Answer, Chunk, Query, SearchFilter, Turn

log = logging.getLogger(__name__)


@dataclass
class DocumentInfo:
    source: str
    title: str
    doc_type: str
    date: str
    issuer: str
    chunks: int


@dataclass
class _Indexes:
    """What is derived from the store: built together, dropped together after an ingest."""
    lexical: LexicalIndex
    retriever: HybridRetriever
    answerer: ExtractiveAnswerer
    spelling: SpellingRepair
    known: frozenset[str]  # the documents' words, which name masking leaves alone
    stamp: float  # LexicalIndex.stamp() when built: another process's ingest changes it


class KnowledgeBase:
    def __init__(self, settings: Settings, embeddings: CachedEmbeddings | None = None,
                 store: VectorStore | None = None, mode: Mode = "hybrid", condenser: Condenser = resolve) -> None:
        self.settings = settings
        self.embeddings = embeddings or build_embeddings(settings.embedding, settings.models_dir,
                                                         settings.embedding_cache_path)
        self.store = store or VectorStore(settings.store, settings.chroma_dir, self.embeddings)
        self.mode = mode
        self.condenser = condenser
        self._writer = WriterLock(settings.ingest_lock_path)  # asked on every question: built once
        self._indexes: _Indexes | None = None

    @property
    def indexes(self) -> "_Indexes":
        """The parts derived from the store, built on first use and again after ``invalidate()``."""
        if self._indexes is None:
            self._indexes = self._build_indexes()
        return self._indexes

    @property
    def lexical(self) -> LexicalIndex:
        return self.indexes.lexical

    @property
    def retriever(self) -> HybridRetriever:
        return self.indexes.retriever

    @property
    def answerer(self) -> ExtractiveAnswerer:
        return self.indexes.answerer

    @property
    def spelling(self) -> SpellingRepair:
        return self.indexes.spelling

    def _build_indexes(self) -> "_Indexes":
        s = self.settings
        stamp = LexicalIndex.stamp(s.lexical_dir)
        lexical = LexicalIndex.load(s.lexical_dir)
        if lexical is None or lexical.tokens != s.retrieval.lexical_tokens:
            if self.store.count() == 0:
                raise EmptyStoreError(msg("no_store"))
            lexical = LexicalIndex.build(list(self.store.iter_chunks()), s.retrieval.lexical_tokens)
            lexical.save(s.lexical_dir)
            stamp = LexicalIndex.stamp(s.lexical_dir)
        reranker = build_reranker(s.retrieval, s.embedding.allow_downloads)
        retriever = HybridRetriever(self.store, lexical, reranker, s.retrieval, self.mode)
        answerer = ExtractiveAnswerer(self.embeddings, lexical, s.answer)
        return _Indexes(lexical, retriever, answerer, SpellingRepair(lexical),
                        privacy.known_words(c.text for c in lexical.chunks), stamp)

    def ingest(self, paths: list[Path] | None = None,
               progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
        """Ingest files or folders (default: the corpus folder) with this knowledge base's settings."""
        s = self.settings
        report = run_ingest(paths or [s.corpus_dir], self.store, self.embeddings, Manifest(s.manifest_path),
                            lexical_dir=s.lexical_dir, chunking=s.ingest, lexical_tokens=s.retrieval.lexical_tokens,
                            lock=s.ingest_lock_path, **({"progress": progress} if progress else {}))
        self.invalidate()
        return report

    def invalidate(self) -> None:
        """Forget the derived indexes (after an ingest) so the next question sees the new documents."""
        self._indexes = None

    def warm_up(self) -> None:
        """Build the derived indexes now (at start-up) rather than on the first question."""
        _ = self.indexes

    def ensure_ready(self, language: str = "da") -> None:
        """Raise a user-facing error while the store is empty or being re-ingested; pick up the result
        of an ingest run by another process (the chat keeps serving across `kb ingest`)."""
        if self._writer.held_elsewhere():
            raise StoreBusyError(msg("store_busy", language))
        if self.store.count() == 0:
            raise EmptyStoreError(msg("no_store", language))
        if self._indexes is not None and LexicalIndex.stamp(self.settings.lexical_dir) != self._indexes.stamp:
            self.invalidate()

    def validate(self, question: str) -> str | None:
        """A message for a question that cannot be asked as typed, else None."""
        language = detect_language(question)
        if not question or not question.strip():
            return msg("empty", language)
        if len(question) > self.settings.answer.max_question_chars:
            return msg("too_long", language, n=len(question), limit=self.settings.answer.max_question_chars)
        return None

    def ask(self, question: str, history: list[str] | list[Turn] | None = None,
            flt: SearchFilter = SearchFilter(), k: int | None = None) -> Answer:
        """Answer one question. ``history`` is the conversation so far: the chat passes the turns it
        kept (with what each answer cited); the eval runner and the CLI pass earlier user questions,
        which are answered first so that both paths give the same answer to the same conversation."""
        language = detect_language(question or "")
        if (problem := self.validate(question)) is not None:
            return Answer(question=privacy.mask(question or ""), text=problem, abstained=True, citations=[], hits=[],
                          language=language, error=problem)
        self.ensure_ready(language)
        turns = self.replay([h for h in history or [] if isinstance(h, str)], flt) + \
            [h for h in history or [] if isinstance(h, Turn)]
        # Personal data is neither searched nor kept: records and logs see the masked question only.
        known = self.indexes.known
        searched = self.spelling.repair(privacy.strip(without_markup(question), known))
        question = privacy.mask(question, known)
        resolution = self.condenser(searched, turns)
        intent = classify(searched)
        text = " ".join(filter(None, (resolution.text, SEARCH_HINTS.get(intent))))
        if language == "en":  # give the Danish lexical index something to match
            text = " ".join([text, *danish_terms(text)])
        vector = self.embeddings.embed_query(text)
        query = Query(question=question, text=text, focus=searched, language=language, vector=tuple(vector),
                      intent=intent, follow_up=resolution.follow_up, context=resolution.context)
        hits = self.retriever.retrieve(text, vector, max(k or self.settings.retrieval.top_k, self.settings.answer.answer_hits), flt)
        if not hits and not flt.is_empty():
            note = msg("no_filter_match", language)
            return Answer(question=question, text=note, abstained=True, citations=[], hits=[], language=language,
                          error=note, retrieval_query=text)
        answer = self.answerer.answer(query, hits)
        answer.turn = Turn(question=searched, searched=resolution.text,
                           cited=tuple(c.chunk_id for c in answer.citations))
        return answer

    def replay(self, questions: list[str], flt: SearchFilter = SearchFilter()) -> list[Turn]:
        """Conversation state from earlier user questions alone: each is answered again, in order."""
        turns: list[Turn] = []
        for earlier in questions:
            if earlier.strip() and self.validate(earlier) is None:
                answer = self.ask(earlier, history=turns, flt=flt)
                if answer.turn is not None:
                    turns.append(answer.turn)
        return turns

    def neighbours(self, chunk_id: str, around: int = 1) -> list[Chunk]:
        """The chunk with its neighbours in the same document, in reading order (a document view)."""
        target = next((c for c in self.lexical.chunks if c.chunk_id == chunk_id), None)
        if target is None:
            return []
        same_doc = sorted((c for c in self.lexical.chunks if c.meta.doc_id == target.meta.doc_id), key=lambda c: c.index)
        position = same_doc.index(target)
        return same_doc[max(0, position - around):position + around + 1]

    def documents(self) -> list[DocumentInfo]:
        info: dict[str, DocumentInfo] = {}
        for chunk in self.lexical.chunks:
            m = chunk.meta
            entry = info.setdefault(m.source, DocumentInfo(m.source, m.title, m.doc_type, m.date, m.issuer, 0))
            entry.chunks += 1
        return sorted(info.values(), key=lambda d: d.source)
