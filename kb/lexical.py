"""Lexical retrieval: BM25 (bm25s), persisted beside the store.

Retrieval tokens are character 4-grams of letter-folded words by default ("char4"), or Danish
stems ("word"); either way the index also keeps the stemmed vocabulary and document frequencies
that spelling repair, term coverage and abstention use. It is derived data: ``build`` recreates it
from the chunks in the vector store after every ingest, so the two never drift apart.
"""
from __future__ import annotations

import json
import logging
import math
from collections import Counter
from pathlib import Path

import bm25s
import numpy as np

from .errors import ConfigError
from .text import char_ngrams, fold, stem_tokens, words
from .types import Chunk, SearchFilter

# bm25s sets its own logger to DEBUG on import, which floods the CLI with "Building index" lines.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_META_FILE = "chunks.json"


TOKENIZERS = {"char4": char_ngrams, "word": stem_tokens}


class LexicalIndex:
    def __init__(self, chunks: list[Chunk], bm25: bm25s.BM25 | None, vocabulary: dict[str, int],
                 doc_freq: dict[str, int], tokens: str = "char4") -> None:
        self.chunks = chunks
        self.tokens = tokens
        self._tokenize = TOKENIZERS[tokens]
        self._bm25 = bm25
        self.vocabulary = vocabulary  # surface word -> corpus frequency
        self.doc_freq = doc_freq  # stem -> number of chunks containing it
        self._max_idf = self.idf("\x00never-seen")

    @classmethod
    def build(cls, chunks: list[Chunk], tokens: str = "char4") -> "LexicalIndex":
        if tokens not in TOKENIZERS:
            raise ConfigError(f"Ukendt KB_LEXICAL_TOKENS={tokens!r}; vælg {' eller '.join(TOKENIZERS)}.")
        chunks = sorted(chunks, key=lambda c: c.chunk_id)
        stem_lists = [stem_tokens(c.embed_text) for c in chunks]
        bm25 = None
        if chunks:
            bm25 = bm25s.BM25()
            bm25.index([TOKENIZERS[tokens](c.embed_text) or [""] for c in chunks], show_progress=False)
        vocabulary = Counter(w for c in chunks for w in words(c.embed_text) if not w.isdigit())
        doc_freq = Counter(t for stems in stem_lists for t in set(stems))
        return cls(chunks, bm25, dict(vocabulary), dict(doc_freq), tokens)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(str(directory / "bm25"))
        payload = {"chunks": [{"id": c.chunk_id, "text": c.text, "meta": c.store_metadata()} for c in self.chunks],
                   "vocabulary": self.vocabulary, "doc_freq": self.doc_freq, "tokens": self.tokens}
        tmp = directory / (_META_FILE + ".tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        tmp.replace(directory / _META_FILE)

    @staticmethod
    def exists(directory: Path) -> bool:
        return (directory / _META_FILE).exists()

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex | None":
        meta = directory / _META_FILE
        if not meta.exists():
            return None
        payload = json.loads(meta.read_text(encoding="utf-8"))
        chunks = [Chunk.from_store(c["id"], c["text"], c["meta"]) for c in payload["chunks"]]
        bm25 = bm25s.BM25.load(str(directory / "bm25")) if chunks else None
        return cls(chunks, bm25, payload["vocabulary"], payload["doc_freq"], payload.get("tokens", "word"))

    def idf(self, stem: str) -> float:
        n = max(len(self.chunks), 1)
        df = self.doc_freq.get(stem, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(self, query: str, k: int, flt: SearchFilter) -> list[tuple[Chunk, float]]:
        tokens = self._tokenize(query)
        if self._bm25 is None or not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)
        if not flt.is_empty():
            mask = np.array([flt.matches(c.meta) for c in self.chunks])
            scores = np.where(mask, scores, 0.0)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.chunks[i], float(scores[i])) for i in order if scores[i] > 0]

    def knows(self, word: str) -> bool:
        """Whether the corpus uses this word: as written, as another inflection, or as a compound of
        two corpus words ('alkoholforbrug' = 'alkohol' + 'forbrug', with Danish linking -s-/-e-)."""
        word = word.lower()
        if word in self.vocabulary or any(s in self.doc_freq for s in stem_tokens(word)):
            return True
        for i in range(3, len(word) - 2):
            left, right = word[:i], word[i:]
            left_known = left in self.vocabulary or (left[-1] in "se" and left[:-1] in self.vocabulary)
            if left_known and (right in self.vocabulary or any(s in self.doc_freq for s in stem_tokens(right))):
                return True
        return False

    def folded_lookup(self) -> dict[str, str]:
        """folded spelling -> most frequent surface word, to restore æ/ø/å typed as ae/oe/aa."""
        best: dict[str, tuple[int, str]] = {}
        for word, freq in self.vocabulary.items():
            key = fold(word)
            if key not in best or freq > best[key][0]:
                best[key] = (freq, word)
        return {k: w for k, (_, w) in best.items()}
