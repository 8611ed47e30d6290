"""The vector store: Chroma through langchain-chroma, embedded on disk or a Chroma server."""
from __future__ import annotations

import shutil
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from filelock import FileLock, Timeout
from langchain_chroma import Chroma

from .config import StoreSettings
from .embeddings import CachedEmbeddings
from .errors import ConfigError, StoreBusyError, StoreMismatchError
from .messages import msg
from .types import Chunk, SearchFilter, date_bound

# The most neighbours fetched without the filter before a filtered search falls back to Chroma's
# search among the admitted ids (measured at 100k chunks: 4 ms for 500 neighbours).
OVERFETCH_MAX = 1000


def server_command(path: Path, host: str, port: int) -> list[str]:
    """The command that runs Chroma's own server (the Rust one shipped in the chromadb package)."""
    chroma = Path(sys.executable).with_name("chroma")
    found = str(chroma) if chroma.exists() else shutil.which("chroma")
    if not found:
        raise ConfigError("Kommandoen 'chroma' (fra pakken chromadb) findes ikke i dette miljø.")
    return [found, "run", "--path", str(path), "--host", host, "--port", str(port)]


def make_client(settings: StoreSettings, chroma_dir: Path) -> chromadb.ClientAPI:
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(chroma_dir), settings=chroma_settings)


class WriterLock:
    """One writer at a time: an ingest (or `kb doctor`) holds this operating-system file lock while it
    writes a new generation, so a second one is refused with a message. The lock dies with its
    process, so a killed ingest leaves nothing stale behind."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = FileLock(str(path))

    @contextmanager
    def hold(self, wait: float = 5.0) -> Iterator[None]:
        """Hold the lock for the block; ``wait`` covers a reader checking it at the same moment."""
        try:
            self._lock.acquire(timeout=wait)
        except Timeout:
            raise StoreBusyError(msg("ingest_running")) from None
        try:
            yield
        finally:
            self._lock.release()


class VectorStore:
    def __init__(self, settings: StoreSettings, chroma_dir: Path, embeddings: CachedEmbeddings,
                 client: chromadb.ClientAPI | None = None) -> None:
        self.embeddings = embeddings
        self.location = (f"chroma://{settings.chroma_host}:{settings.chroma_port}/{settings.collection}"
                         if settings.chroma_host else str(chroma_dir.resolve()))
        self._client, self._name = client or make_client(settings, chroma_dir), settings.collection
        self._server = bool(settings.chroma_host)
        self._spec = dict(metadata={"embedding_model": embeddings.model_id, "dimension": embeddings.dimension},
                          configuration={"hnsw": {"space": "cosine"}})
        # langchain-chroma's add_texts embeds the stored text itself; we embed a contextualised version
        # (title and section + passage), so writes go through our own handle on the same collection.
        self._collection = self._open()
        self._lc = Chroma(collection_name=self._name, embedding_function=embeddings, client=self._client,
                          collection_metadata=self._spec["metadata"],
                          collection_configuration=self._spec["configuration"])
        built_with = (self._collection.metadata or {}).get("embedding_model")
        if built_with and built_with != embeddings.model_id:
            raise StoreMismatchError(
                f"Vidensbasen er bygget med modellen {built_with!r}, men {embeddings.model_id!r} er valgt. "
                "Byg den igen med: kb ingest --rebuild")

    def _open(self) -> chromadb.Collection:
        return self._client.get_or_create_collection(name=self._name, embedding_function=None, **self._spec)

    def count(self) -> int:
        return self._collection.count()

    def upsert(self, chunks: list[Chunk], vectors: np.ndarray | list[list[float]]) -> None:
        for i in range(0, len(chunks), 200):
            part = chunks[i:i + 200]
            self._collection.upsert(ids=[c.chunk_id for c in part], embeddings=vectors[i:i + 200],
                                    documents=[c.text for c in part], metadatas=[c.store_metadata() for c in part])

    def delete(self, ids: list[str]) -> None:
        if ids:
            self._lc.delete(ids=ids)

    def iter_chunks(self, batch: int = 1000) -> Iterator[Chunk]:
        offset = 0
        while True:
            got = self._lc.get(limit=batch, offset=offset, include=["documents", "metadatas"])
            for cid, text, md in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                yield Chunk.from_store(cid, text, md or {})
            if len(got["ids"]) < batch:
                return
            offset += batch

    def search(self, vector: list[float], k: int, flt: SearchFilter,
               admitted: Collection[str] | None = None) -> list[tuple[Chunk, float]]:
        """Top-k chunks by cosine similarity (1 - cosine distance), restricted by the filter.

        With ``admitted`` (the ids the filter lets through, which the lexical index computes from
        arrays) a filtered search does not go through Chroma's ``where``, which scans the metadata
        table (150 ms at 100k chunks): the nearest neighbours are fetched without the filter and the
        admitted kept, which is the filtered top-k whenever k of them are admitted; otherwise Chroma
        searches among the admitted ids only (14 ms at 100k for 18k ids)."""
        total = self.count()
        k = min(k, total)
        if k <= 0:
            return []
        if flt.is_empty() or admitted is None:
            results = self._lc.similarity_search_by_vector_with_relevance_scores(vector, k=k, filter=_where(flt))
            return [(Chunk.from_store(doc.id, doc.page_content, doc.metadata), 1.0 - dist) for doc, dist in results]
        if not admitted:
            return []
        admitted = admitted if isinstance(admitted, (set, frozenset)) else set(admitted)
        wanted = min(k, len(admitted))
        fetch = min(total, OVERFETCH_MAX, max(4 * k, 2 * k * total // len(admitted)))
        # Ids and distances only: texts and metadata are read for the k kept, not for every neighbour.
        got = self._collection.query(query_embeddings=[vector], n_results=fetch, include=["distances"])
        nearest = [(i, d) for i, d in zip(got["ids"][0], got["distances"][0], strict=True) if i in admitted][:wanted]
        if len(nearest) < wanted:
            got = self._collection.query(query_embeddings=[vector], n_results=wanted, ids=list(admitted),
                                         include=["distances"])
            nearest = list(zip(got["ids"][0], got["distances"][0], strict=True))
        rows = self._collection.get(ids=[i for i, _ in nearest], include=["documents", "metadatas"])
        stored = {i: (t, m) for i, t, m in zip(rows["ids"], rows["documents"], rows["metadatas"], strict=True)}
        return [(Chunk.from_store(i, stored[i][0], stored[i][1] or {}), 1.0 - d) for i, d in nearest]

    def ids(self) -> set[str]:
        return set(self._collection.get(include=[])["ids"])

    def copy_from(self, other: "VectorStore", batch: int = 1000) -> None:
        """Every chunk and vector of ``other`` into this (empty) store: how a generation starts on a
        Chroma server, where a folder cannot be copied."""
        offset = 0
        while True:
            got = other._collection.get(limit=batch, offset=offset, include=["embeddings", "documents", "metadatas"])
            if len(got["ids"]):
                self._collection.upsert(ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"],
                                        metadatas=got["metadatas"])
            if len(got["ids"]) < batch:
                return
            offset += batch

    def close(self) -> None:
        """Release the client (an embedded store's files), e.g. before its folder is renamed."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    def drop(self) -> None:
        """Delete this store's collection on a Chroma server (an embedded one goes with its folder)."""
        if self._server:
            self._client.delete_collection(self._name)
        self.close()

    def drop_others(self, base: str, keep: set[str]) -> None:
        """Delete the server collections of generations that are gone (all ``base-g…`` but ``keep``)."""
        for collection in self._client.list_collections():
            name = getattr(collection, "name", collection)
            if name.startswith(f"{base}-g") and name not in keep:
                self._client.delete_collection(name)


def _where(flt: SearchFilter) -> dict | None:
    """The filter in Chroma's where-syntax; dates compare as YYYYMMDD numbers ('date_num')."""
    clauses: list[dict] = []
    if flt.doc_types:
        clauses.append({"doc_type": {"$in": list(flt.doc_types)}})
    if flt.issuers:
        clauses.append({"issuer": {"$in": list(flt.issuers)}})
    if flt.date_from:
        clauses.append({"date_num": {"$gte": date_bound(flt.date_from, low=True)}})
    if flt.date_to:
        clauses.append({"date_num": {"$lte": date_bound(flt.date_to, low=False)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
