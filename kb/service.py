"""The knowledge base as one object: heavy parts (model, store client, BM25) built once, then
``ask`` runs validate -> condense -> repair -> embed -> retrieve -> answer for each question."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ingest.pipeline import IngestReport, Manifest, ingest as run_ingest

from .answer import ExtractiveAnswerer
from .config import Settings
from .embeddings import CachedEmbeddings, build_embeddings
from .errors import EmptyStoreError, StoreBusyError
from .glossary import danish_terms
from .lexical import LexicalIndex
from . import privacy
from .messages import msg
from .conversation import Condenser, resolve
from .intent import SEARCH_HINTS, classify
from .query import SpellingRepair
from .rerank import build_reranker
from .retrieve import HybridRetriever, Mode
from .store import VectorStore
from .text import detect_language
from .types import Answer, Chunk, Query, SearchFilter, Turn

log = logging.getLogger(__name__)


def ingest_running(lock: Path) -> bool:
    """True while another process holds the ingest lock (a stale lock from a dead process is ignored)."""
    try:
        pid = int(lock.read_text().strip() or 0)
    except (OSError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


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
                 store: VectorStore | None = None, mode: Mode = "hybrid", condenser: Condenser = resolve) -> None:
        self.settings = settings
        self.embeddings = embeddings or build_embeddings(settings)
        self.store = store or VectorStore(settings, self.embeddings)
        self.mode = mode
        self.condenser = condenser

    @cached_property
    def lexical(self) -> LexicalIndex:
        self._lexical_mtime = self._lexical_stamp()
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
        reranker = build_reranker(s.reranker_model, s.rerank_top_n, s.allow_downloads)
        return HybridRetriever(self.store, self.lexical, reranker, candidates=s.candidates, rrf_k=s.rrf_k,
                               mode=self.mode, dense_weight=s.dense_weight, fusion=s.fusion)

    @cached_property
    def answerer(self) -> ExtractiveAnswerer:
        s = self.settings
        return ExtractiveAnswerer(self.embeddings, self.lexical, s.answer_hits, s.max_answer_sentences,
                                  s.abstain_threshold)

    @cached_property
    def spelling(self) -> SpellingRepair:
        return SpellingRepair(self.lexical)

    def ingest(self, paths: list[Path] | None = None,
               progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
        """Ingest files or folders (default: the corpus folder) with this knowledge base's settings."""
        s = self.settings
        report = run_ingest(paths or [s.corpus_dir], self.store, self.embeddings, Manifest(s.manifest_path),
                        s.lexical_dir, s.chunk_size, s.chunk_min_size, s.lexical_tokens, s.ingest_lock_path,
                        **({"progress": progress} if progress else {}))
        self.reload()
        return report

    def reload(self) -> None:
        """Forget derived indexes after an ingest so the next question sees the new documents."""
        for name in ("lexical", "retriever", "answerer", "spelling"):
            self.__dict__.pop(name, None)

    def _lexical_stamp(self) -> float:
        path = self.settings.lexical_dir / "chunks.json"
        return path.stat().st_mtime if path.exists() else 0.0

    def warm_up(self) -> None:
        """Build the derived indexes now (at start-up) rather than on the first question."""
        _ = self.retriever, self.answerer, self.spelling

    def ensure_ready(self, language: str = "da") -> None:
        """Raise a user-facing error while the store is empty or being re-ingested; pick up the result
        of an ingest run by another process (the chat keeps serving across `kb ingest`)."""
        if ingest_running(self.settings.ingest_lock_path):
            raise StoreBusyError(msg("store_busy", language))
        if self.store.count() == 0:
            raise EmptyStoreError(msg("no_store", language))
        if "lexical" in self.__dict__ and self._lexical_stamp() != self._lexical_mtime:
            self.reload()

    def validate(self, question: str) -> str | None:
        """A message for a question that cannot be asked as typed, else None."""
        language = detect_language(question)
        if not question or not question.strip():
            return msg("empty", language)
        if len(question) > self.settings.max_question_chars:
            return msg("too_long", language, n=len(question), limit=self.settings.max_question_chars)
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
        searched, question = self.spelling.repair(privacy.strip(question)), privacy.mask(question)
        resolution = self.condenser(searched, turns)
        intent = classify(searched)
        text = " ".join(filter(None, (resolution.text, SEARCH_HINTS.get(intent))))
        if language == "en":  # give the Danish lexical index something to match
            text = " ".join([text, *danish_terms(text)])
        vector = self.embeddings.embed_query(text)
        query = Query(question=question, text=text, focus=searched, language=language, vector=tuple(vector),
                      intent=intent, follow_up=resolution.follow_up, context=resolution.context)
        hits = self.retriever.retrieve(text, vector, max(k or self.settings.top_k, self.settings.answer_hits), flt)
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
