"""The vector store: Chroma through langchain-chroma, embedded on disk or a Chroma server."""
from __future__ import annotations

from collections.abc import Iterator

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma

from .config import Settings
from .embeddings import CachedEmbeddings
from .errors import StoreMismatchError
from .types import Chunk, SearchFilter


def make_client(settings: Settings) -> chromadb.ClientAPI:
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class VectorStore:
    def __init__(self, settings: Settings, embeddings: CachedEmbeddings,
                 client: chromadb.ClientAPI | None = None) -> None:
        self.embeddings = embeddings
        self.location = (f"chroma://{settings.chroma_host}:{settings.chroma_port}/{settings.collection}"
                         if settings.chroma_host else str(settings.chroma_dir.resolve()))
        self._lc = Chroma(
            collection_name=settings.collection,
            embedding_function=embeddings,
            client=client or make_client(settings),
            collection_metadata={"embedding_model": embeddings.model_id, "dimension": embeddings.dimension},
            collection_configuration={"hnsw": {"space": "cosine"}},
        )
        built_with = (self._collection.metadata or {}).get("embedding_model")
        if built_with and built_with != embeddings.model_id:
            raise StoreMismatchError(
                f"Vidensbasen er bygget med modellen {built_with!r}, men {embeddings.model_id!r} er valgt. "
                "Byg den igen med: kb ingest --rebuild")

    @property
    def _collection(self):
        # langchain-chroma's add_texts embeds the stored text itself; we embed a contextualised
        # version (title and section + passage), so writes go to the collection directly.
        return self._lc._collection

    def count(self) -> int:
        return self._collection.count()

    def upsert(self, chunks: list[Chunk], vectors: list[list[float]]) -> None:
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
            for cid, text, md in zip(got["ids"], got["documents"], got["metadatas"]):
                yield Chunk.from_store(cid, text, md or {})
            if len(got["ids"]) < batch:
                return
            offset += batch

    def search(self, vector: list[float], k: int, flt: SearchFilter) -> list[tuple[Chunk, float]]:
        """Top-k chunks by cosine similarity (1 - cosine distance), restricted by the filter."""
        k = min(k, self.count())
        if k <= 0:
            return []
        results = self._lc.similarity_search_by_vector_with_relevance_scores(vector, k=k, filter=flt.chroma_where())
        return [(Chunk.from_store(doc.id, doc.page_content, doc.metadata), 1.0 - dist) for doc, dist in results]

    def reset(self) -> None:
        self._lc.reset_collection()
