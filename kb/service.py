"""The knowledge base as one object: heavy parts (model, store client, BM25) built once, then
``ask`` runs validate -> condense -> repair -> embed -> retrieve -> answer for each question."""
from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from ingest.pipeline import IngestReport, Manifest, has_work
from ingest.pipeline import ingest as run_ingest

from . import privacy
from .answer import ExtractiveAnswerer
from .config import Settings
from .conversation import Condenser, resolve
from .embeddings import CachedEmbeddings, build_embeddings
from .errors import EmptyStoreError, UnknownDocumentError
from .generations import Generation, Generations
from .glossary import danish_terms, issuer_label, organisation, renamings
from .grounded import GroundedAnswerer, LLMCondenser
from .intent import SEARCH_HINTS, classify
from .lexical import LexicalIndex
from .llm import build_chat_model, describe
from .matters import (
    Catalog,
    Step,
    asks_for_current,
    course_answer,
    newest_answer,
    prefer_newest,
    suggest_relations,
    with_newer_guidance,
    with_past_deadlines,
)
from .messages import msg
from .overview import Overview, overview
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
class Health:
    """What `kb doctor` found in the current generation."""
    generation: str
    documents: int
    manifest_chunks: int
    store_chunks: int
    lexical_chunks: int | None  # None: no lexical index
    missing: list[str]  # in the manifest, not in the store
    orphans: list[str]  # in the store, owned by no document
    lexical_differs: bool
    leftovers: list[str]  # unfinished generations of killed ingests
    damaged: list[str]  # documents with chunks missing

    @property
    def ok(self) -> bool:
        return not (self.missing or self.orphans or self.lexical_differs or self.leftovers)


@dataclass
class _Indexes:
    """What is derived from the store: built together, dropped together after an ingest."""
    lexical: LexicalIndex
    retriever: HybridRetriever
    answerer: ExtractiveAnswerer
    spelling: SpellingRepair
    known: frozenset[str]  # the documents' words, which name masking leaves alone
    catalog: Catalog  # the documents' matters and relations


class KnowledgeBase:
    """Reads the current generation (``kb.generations``) and follows the switch an ingest makes, in
    this process or another: each question is answered wholly from one generation."""

    def __init__(self, settings: Settings, embeddings: CachedEmbeddings | None = None,
                 store: VectorStore | None = None, mode: Mode = "hybrid", condenser: Condenser = resolve,
                 chat_model: BaseChatModel | None = None) -> None:
        self.settings = settings
        self.embeddings = embeddings or build_embeddings(settings.embedding, settings.models_dir,
                                                         settings.embedding_cache_path)
        self.mode = mode
        self.renamed = renamings(settings.retrieval.issuer_aliases)  # (old, new) organisation names
        chat_model = chat_model or build_chat_model(settings.llm)
        # With a chat model, answers are written by it and checked (kb.grounded); without, quoted.
        name = describe(settings.llm) if settings.llm.llm_provider != "none" else type(chat_model).__name__
        self.writer = None if chat_model is None else GroundedAnswerer(chat_model, settings.llm, name)
        self.condenser = LLMCondenser(self.writer, condenser) if self.writer and settings.llm.llm_condense \
            else condenser
        self.generations = Generations(settings.data_dir)
        self._fixed = store is not None  # a store handed in is used as it is, not followed
        self._store = store
        self._retired: VectorStore | None = None  # the previous generation's, closed at the next switch
        self._stamp = self.generations.stamp()
        self._generation = self.generations.current()
        self._writer = WriterLock(settings.ingest_lock_path)
        self._switching = threading.RLock()
        self._indexes: _Indexes | None = None

    @property
    def store(self) -> VectorStore:
        with self._switching:
            if self._store is None:
                self._store = self._open_store(self._generation)
            return self._store

    @property
    def generation(self) -> Generation:
        return self._generation

    def _open_store(self, generation: Generation) -> VectorStore:
        """An embedded store lives in the generation's folder; on a server each generation has a collection."""
        s = self.settings
        section = s.store.model_copy(update={"collection": generation.collection(s.store.collection)}) \
            if s.store.chroma_host else s.store
        return VectorStore(section, generation.chroma_dir, self.embeddings)

    @contextmanager
    def _opened(self, generation: Generation) -> Iterator[VectorStore]:
        store = self._open_store(generation)
        try:
            yield store
        finally:
            store.close()

    @property
    def indexes(self) -> "_Indexes":
        """The parts derived from the store, built on first use and again after a switch."""
        with self._switching:  # built from one generation's store and index, never from a mix
            if self._indexes is None:
                self._indexes = self._build_indexes(self._generation, self.store)
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

    def _build_indexes(self, generation: Generation, store: VectorStore) -> "_Indexes":
        s = self.settings
        lexical_dir = generation.lexical_dir
        lexical = LexicalIndex.load(lexical_dir)
        if lexical is None or lexical.tokens != s.retrieval.lexical_tokens:
            if store.count() == 0:
                raise EmptyStoreError(msg("no_store"))
            lexical = LexicalIndex.build(store.iter_chunks(), s.retrieval.lexical_tokens, lexical_dir)
            lexical.save(lexical_dir)
        reranker = build_reranker(s.retrieval, s.embedding.allow_downloads)
        retriever = HybridRetriever(store, lexical, reranker, s.retrieval, self.mode)
        answerer = ExtractiveAnswerer(self.embeddings, lexical, s.answer, renamed=self.renamed)
        return _Indexes(lexical, retriever, answerer, SpellingRepair(lexical),
                        frozenset(lexical.known), Catalog([first for first, _ in lexical.documents()], lexical.document))

    def ingest(self, paths: list[Path] | None = None, progress: Callable[[int, int, str], None] | None = None,
               rebuild: bool = False) -> IngestReport:
        """Ingest files or folders (default: the corpus folder) into a new generation and switch to it;
        with nothing to change, no generation is made. ``rebuild`` starts from an empty one."""
        s = self.settings
        paths = paths or [s.corpus_dir]
        with self._writer.hold():
            current = self.generations.current()
            if not rebuild and not has_work(paths, Manifest(current.manifest_path), s.ingest, self.embeddings.model_id,
                                            current.lexical_dir):
                # Only unchanged (or unreadable) files: report them from the current generation, which
                # the pipeline does not write to when nothing changes.
                with self._opened(current) as store:
                    return self._run_pipeline(paths, store, current, progress)
            report = self._write_generation(rebuild, lambda store, new: self._run_pipeline(paths, store, new, progress))
        self.follow()
        if report.added or report.updated:
            changed = {Path(source).stem for source in report.added + report.updated}
            # one document at a time: all of a 100 MB ingest's chunks at once were its memory peak
            documents = (self.lexical.document(first.meta.doc_id) for first, _ in self.lexical.documents()
                         if Path(first.meta.source).stem in changed)
            report.suggestions = suggest_relations(documents, self.indexes.catalog)
        return report

    def _run_pipeline(self, paths: list[Path], store: VectorStore, generation: Generation,
                      progress: Callable[[int, int, str], None] | None) -> IngestReport:
        s = self.settings
        return run_ingest(paths, store, self.embeddings, Manifest(generation.manifest_path),
                          lexical_dir=generation.lexical_dir, chunking=s.ingest,
                          lexical_tokens=s.retrieval.lexical_tokens, **({"progress": progress} if progress else {}))

    def _write_generation(self, fresh: bool, work: Callable[[VectorStore, Generation], IngestReport],
                          always: bool = False) -> IngestReport:
        """Run ``work`` on a new generation (a copy of the current one, or empty) and make it current
        if it changed anything (or ``always``); a failure or a kill leaves the current generation as
        it was. The caller holds the writer lock."""
        s = self.settings
        current = self.generations.current()
        new = self.generations.begin(fresh=fresh)
        store: VectorStore | None = None
        try:
            store = self._open_store(new)
            if not fresh and s.store.chroma_host:  # a server collection is copied through the API
                with self._opened(current) as source:
                    store.copy_from(source)
            report = work(store, new)
        except BaseException:
            if store is not None:
                store.drop()
            self.generations.abort(new)
            raise
        store.close()
        if not (report.changed or report.index_rebuilt or fresh or always):
            store.drop()
            self.generations.abort(new)
            return report
        committed = self.generations.commit(new)
        if s.store.chroma_host:
            store.drop_others(s.store.collection, keep={committed.collection(s.store.collection),
                                                        current.collection(s.store.collection)})
        return report

    def check(self) -> "Health":
        """Whether the current generation's manifest, store and lexical index agree (`kb doctor`)."""
        generation = self.generations.current()
        manifest = Manifest(generation.manifest_path)
        listed = {cid for entry in manifest.documents.values() for cid in entry["chunk_ids"]}
        with self._opened(generation) as store:
            stored = store.ids()
        lexical = LexicalIndex.load(generation.lexical_dir)
        indexed = None if lexical is None else lexical.ids()
        leftovers = sorted(p.name for p in self.generations.root.glob("*.partial")) \
            if self.generations.root.is_dir() else []
        return Health(generation.name or "(før generationer)", len(manifest.documents), len(listed), len(stored),
                      None if indexed is None else len(indexed), sorted(listed - stored), sorted(stored - listed),
                      indexed != stored, leftovers,
                      sorted(entry["source"] for entry in manifest.documents.values()
                             if not set(entry["chunk_ids"]) <= stored))

    def repair(self, paths: list[Path] | None = None) -> IngestReport:
        """A new generation in which the three agree again: chunks no document owns are deleted,
        documents with missing chunks are ingested again (their vectors mostly from the cache), and
        the lexical index is rebuilt from the store."""
        s = self.settings
        paths = paths or [s.corpus_dir]

        def mend(store: VectorStore, generation: Generation) -> IngestReport:
            manifest = Manifest(generation.manifest_path)
            listed = {cid for entry in manifest.documents.values() for cid in entry["chunk_ids"]}
            stored = store.ids()
            store.delete(sorted(stored - listed))
            broken = [key for key, entry in manifest.documents.items() if not set(entry["chunk_ids"]) <= stored]
            for key in broken:
                store.delete(manifest.documents.pop(key)["chunk_ids"])
            manifest.save()
            shutil.rmtree(generation.lexical_dir, ignore_errors=True)
            return self._run_pipeline(paths, store, generation, None)

        with self._writer.hold():
            report = self._write_generation(False, mend, always=True)
            for leftover in self.generations.root.glob("*.partial"):
                shutil.rmtree(leftover, ignore_errors=True)
        self.follow()
        return report

    def follow(self) -> None:
        """Switch to the generation an ingest made current (here or in another process). Questions
        already running finish on the previous one, whose store is closed only at the next switch."""
        if self._fixed:
            return
        with self._switching:
            stamp = self.generations.stamp()
            if stamp == self._stamp:
                return
            if self._retired is not None:
                self._retired.close()
            self._retired, self._store, self._indexes = self._store, None, None
            self._stamp, self._generation = stamp, self.generations.current()

    def warm_up(self) -> None:
        """Build the derived indexes now (at start-up) rather than on the first question."""
        _ = self.indexes

    def ensure_ready(self, language: str = "da") -> None:
        """Follow a finished ingest; raise a user-facing error while nothing has been ingested. An
        ingest that is still running does not stop questions: they are answered from the current
        generation until the new one is complete."""
        self.follow()
        if self.store.count() == 0:
            raise EmptyStoreError(msg("no_store", language))

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
        for item in self.ask_stream(question, history, flt, k):
            if isinstance(item, Answer):
                return item
        raise AssertionError("ask_stream ends with an Answer")

    def ask_stream(self, question: str, history: list[str] | list[Turn] | None = None,
                   flt: SearchFilter = SearchFilter(), k: int | None = None) -> Iterator[str | Answer]:
        """``ask`` for the chat: a model's draft as it grows (strings), then the final Answer."""
        language = detect_language(question or "")
        if (problem := self.validate(question)) is not None:
            yield Answer(question=privacy.mask(question or ""), text=problem, abstained=True, citations=[], hits=[],
                         language=language, error=problem)
            return
        self.ensure_ready(language)
        turns = self.replay([h for h in history or [] if isinstance(h, str)], flt) + \
            [h for h in history or [] if isinstance(h, Turn)]
        indexes = self.indexes  # one generation for the whole question, even if an ingest switches meanwhile
        # Personal data is neither searched nor kept: records and logs see the masked question only.
        searched = indexes.spelling.repair(privacy.strip(without_markup(question), indexes.known))
        question = privacy.mask(question, indexes.known)
        resolution = self.condenser(searched, turns)
        intent = classify(searched)
        text = " ".join(filter(None, (resolution.text, SEARCH_HINTS.get(intent))))
        if language == "en":  # give the Danish lexical index something to match
            text = " ".join([text, *danish_terms(text)])
        vector = self.embeddings.embed_query(text)
        query = Query(question=question, text=text, focus=searched, language=language, vector=tuple(vector),
                      intent=intent, follow_up=resolution.follow_up, context=resolution.context)
        flt = self._one_issuer(flt, indexes.catalog)
        hits = indexes.retriever.retrieve(text, vector, max(k or self.settings.retrieval.top_k, self.settings.answer.answer_hits), flt)
        if not hits and not flt.is_empty():
            note = msg("no_filter_match", language)
            yield Answer(question=question, text=note, abstained=True, citations=[], hits=[], language=language,
                         error=note, retrieval_query=text)
            return
        if asks_for_current(searched):
            hits = prefer_newest(hits, indexes.catalog)
        # A matter's course or its newest document: from the catalog, quoted, never rewritten by a model.
        course = course_answer(query, hits, indexes.catalog) or newest_answer(query, hits, indexes.catalog)
        answer = course or indexes.answerer.answer(query, hits)
        if self.writer is not None and course is None:  # the model's draft as it grows, then the checked answer
            for item in self.writer.stream(query, hits, answer):
                if isinstance(item, str):
                    yield item
                else:
                    answer = item
        answer = with_past_deadlines(with_newer_guidance(answer, indexes.catalog), self.today())
        answer.turn = Turn(question=searched, searched=resolution.text,
                           cited=tuple(c.chunk_id for c in answer.citations))
        yield answer

    today = staticmethod(dt.date.today)  # what 'past' means for a deadline; a test fixes it

    def _one_issuer(self, flt: SearchFilter, catalog: Catalog) -> SearchFilter:
        """An issuer filter widened to every issuer in the documents that is the same organisation
        (``kb.glossary.organisation``): choosing Social- og Boligstyrelsen also admits the documents of
        Socialstyrelsen and of its units."""
        if not flt.issuers:
            return flt
        chosen = {organisation(i, self.renamed) for i in flt.issuers}
        named = {c.meta.issuer for c in catalog.first.values() if organisation(c.meta.issuer, self.renamed) in chosen}
        return replace(flt, issuers=tuple(sorted(named | set(flt.issuers))))

    def issuers(self) -> list[str]:
        """The organisations behind the documents, each once under its current name: the issuer
        filter's choices (from the catalog in memory; the chat asks on every page load)."""
        return sorted({organisation(first.meta.issuer, self.renamed) for first in self.indexes.catalog.first.values()
                       if first.meta.issuer})

    def timeline(self, matter: str = "") -> dict[str, list[Step]]:
        """Each matter's documents in date order (those whose name contains ``matter``, if given)."""
        self.ensure_ready()
        return {name: steps for name, steps in self.indexes.catalog.matters().items()
                if matter.lower() in name.lower()}

    def overview(self, document: str) -> Overview:
        """A document at a glance (kb.overview), found by its file name or a part of its title."""
        self.ensure_ready()
        wanted = document.strip().lower()
        firsts = list(self.indexes.catalog.first.values())
        found = [c for c in firsts if wanted in (c.meta.source.lower(), Path(c.meta.source).stem.lower())] or \
            [c for c in firsts if wanted and wanted in c.meta.title.lower()]
        if len(found) != 1:
            names = ", ".join(sorted(c.meta.source for c in found)) or "ingen"
            raise UnknownDocumentError(f"»{document}« passer ikke på ét dokument (fundet: {names}). Brug filnavnet "
                                       "fra `kb info`.")
        result = overview(self.lexical.document(found[0].meta.doc_id), self.indexes.catalog)
        result.meta = replace(result.meta, issuer=issuer_label(result.meta.issuer, self.renamed))
        return result

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
        target = self.lexical.chunk(chunk_id)
        if target is None:
            return []
        same_doc = self.lexical.document(target.meta.doc_id)
        position = [c.chunk_id for c in same_doc].index(chunk_id)
        return same_doc[max(0, position - around):position + around + 1]

    def documents(self) -> list[DocumentInfo]:
        info: dict[str, DocumentInfo] = {}
        for first, count in self.lexical.documents():
            m = first.meta
            issuer = issuer_label(m.issuer, self.renamed)
            entry = info.setdefault(m.source, DocumentInfo(m.source, m.title, m.doc_type, m.date, issuer, 0))
            entry.chunks += count
        return sorted(info.values(), key=lambda d: d.source)
