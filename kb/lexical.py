"""Lexical retrieval: BM25 over a term-frequency matrix that is updated in place, beside the store.

Retrieval tokens are character 4-grams of letter-folded words by default ("char4"), or Danish
stems ("word"); either way the index also keeps the stemmed vocabulary and document frequencies
that spelling repair, term coverage and abstention use, and the words name masking leaves alone.

Scoring is BM25 as bm25s computes it (Lucene idf and term weight, k1 1.5, b 0.75), but from raw
term frequencies at query time rather than from precomputed weights: a precomputed index depends
on every document's length and every term's document frequency, so adding one document meant
re-tokenising the whole corpus. Here an ingest tokenises only the chunks it adds or removes
(``apply``), and a full ``build`` is the same operation from empty, so the two give the same
ranking. Chunk texts and metadata live in an SQLite table and are read when a hit needs them;
filters use arrays of document type and date, not a loop over chunks.

Files in the index folder: ``chunks.sqlite`` (the table), ``matrix.npz`` (term frequencies, lengths,
types, dates, row ids) and ``terms.json`` (tokens, vocabularies; written last, so it marks a
complete index).
"""
from __future__ import annotations

import json
import math
import shutil
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .errors import ConfigError
from .privacy import known_words
from .text import char_ngrams, fold, stem_tokens, words
from .types import Chunk, SearchFilter, date_bound

FORMAT = 2
_TERMS, _MATRIX, _TABLE = "terms.json", "matrix.npz", "chunks.sqlite"
K1, B = 1.5, 0.75  # bm25s defaults, which the rest of the pipeline was tuned with

TOKENIZERS = {"char4": char_ngrams, "word": stem_tokens}


class _ChunkTable:
    """Chunk texts and metadata by id and by position in their document, read on demand."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._lock = threading.Lock()  # one connection shared by the chat's worker threads
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS chunks (id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, "
                             "idx INTEGER NOT NULL, text TEXT NOT NULL, meta TEXT NOT NULL)")
            self._db.execute("CREATE INDEX IF NOT EXISTS chunks_position ON chunks (doc_id, idx)")

    @classmethod
    def open(cls, path: Path | None, writable: bool) -> "_ChunkTable":
        if path is None:
            return cls(sqlite3.connect(":memory:", check_same_thread=False))
        uri = f"file:{path}?mode={'rwc' if writable else 'ro'}"
        return cls(sqlite3.connect(uri, uri=True, check_same_thread=False))

    def _rows(self, sql: str, args: Iterable = ()) -> list[Chunk]:
        with self._lock:
            rows = self._db.execute(sql, tuple(args)).fetchall()
        return [Chunk.from_store(cid, text, json.loads(meta)) for cid, text, meta in rows]

    def get(self, ids: list[str]) -> dict[str, Chunk]:
        found: dict[str, Chunk] = {}
        for i in range(0, len(ids), 500):  # SQLite's limit on bound parameters
            part = ids[i:i + 500]
            found.update((c.chunk_id, c) for c in self._rows(
                f"SELECT id, text, meta FROM chunks WHERE id IN ({','.join('?' * len(part))})", part))
        return found

    def at(self, doc_id: str, index: int) -> Chunk | None:
        got = self._rows("SELECT id, text, meta FROM chunks WHERE doc_id = ? AND idx = ?", (doc_id, index))
        return got[0] if got else None

    def document(self, doc_id: str) -> list[Chunk]:
        return self._rows("SELECT id, text, meta FROM chunks WHERE doc_id = ? ORDER BY idx", (doc_id,))

    def documents(self) -> list[tuple[Chunk, int]]:
        with self._lock:
            counts = self._db.execute("SELECT doc_id, COUNT(*), MIN(idx) FROM chunks GROUP BY doc_id").fetchall()
        return [(first, n) for doc_id, n, low in counts if (first := self.at(doc_id, low)) is not None]

    def iter_all(self, batch: int = 1000) -> Iterator[Chunk]:
        last = ""
        while True:
            got = self._rows("SELECT id, text, meta FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (last, batch))
            yield from got
            if len(got) < batch:
                return
            last = got[-1].chunk_id

    def replace(self, removed: list[str], added: list[Chunk]) -> None:
        with self._lock, self._db:
            self._db.executemany("DELETE FROM chunks WHERE id = ?", [(i,) for i in removed])
            self._db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?)",
                                 [(c.chunk_id, c.meta.doc_id, c.index, c.text,
                                   json.dumps(c.store_metadata(), ensure_ascii=False)) for c in added])

    def save_to(self, path: Path) -> None:
        """Write the table to ``path`` (a table opened from that file is already there)."""
        with self._lock:
            target = sqlite3.connect(str(path))
            try:
                self._db.backup(target)
            finally:
                target.close()

    def close(self) -> None:
        self._db.close()


def _drop_rows(tf: sp.csc_matrix, keep: np.ndarray) -> sp.csc_matrix:
    """The matrix without the rows ``keep`` rules out, rows renumbered: one pass over the entries
    (converting formats to slice rows cost seconds at 100k chunks)."""
    if keep.all():
        return tf
    entry_kept = keep[tf.indices]
    dropped = np.flatnonzero(~entry_kept)  # few: the entries of the removed rows
    renumber = (np.cumsum(keep) - 1).astype(tf.indices.dtype)
    indptr = tf.indptr - np.searchsorted(dropped, tf.indptr)
    return sp.csc_matrix((tf.data[entry_kept], renumber[tf.indices[entry_kept]], indptr),
                         shape=(int(keep.sum()), tf.shape[1]), copy=False)


def _append_rows(tf: sp.csc_matrix, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, height: int,
                 width: int) -> sp.csc_matrix:
    """The matrix grown to ``height`` rows and ``width`` columns with new entries (``rows`` numbered
    below the existing ones, in increasing order): each is inserted at the end of its column, so
    columns stay sorted by row."""
    indptr = np.concatenate([tf.indptr, np.full(width - tf.shape[1], tf.indptr[-1], dtype=tf.indptr.dtype)])
    order = np.argsort(cols, kind="stable")
    rows, cols, values = rows[order], cols[order], values[order]
    at = indptr[cols + 1]
    indices = np.insert(tf.indices, at, rows.astype(tf.indices.dtype))  # one copy of the entries, no casts
    data = np.insert(tf.data, at, values.astype(tf.data.dtype))
    indptr = indptr + np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=width))])
    return sp.csc_matrix((data, indices, indptr), shape=(height, width), copy=False)


class LexicalIndex:
    def __init__(self, tokens: str, table: _ChunkTable, path: Path | None) -> None:
        if tokens not in TOKENIZERS:
            raise ConfigError(f"Ukendt KB_LEXICAL_TOKENS={tokens!r}; vælg {' eller '.join(TOKENIZERS)}.")
        self.tokens = tokens
        self._tokenize = TOKENIZERS[tokens]
        self._table, self._path = table, path
        self._grams: dict[str, int] = {}
        self._tf = sp.csc_matrix((np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(1, np.int32)),
                                 shape=(0, 0))  # rows: chunks; columns: tokens
        # Entries of rows added since the matrix was last merged, as (rows, columns, counts) arrays:
        # merging costs a pass over the whole matrix, so an ingest merges rarely, not per slice.
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._ids: list[str] = []
        self._lengths = np.zeros(0, dtype=np.int64)
        self._types = np.zeros(0, dtype=str)
        self._dates = np.zeros(0, dtype=np.int64)
        self.vocabulary: Counter[str] = Counter()  # surface word -> corpus frequency
        self.doc_freq: Counter[str] = Counter()  # stem -> number of chunks containing it
        self.known: Counter[str] = Counter()  # word -> chunks using it, for name masking
        self._refresh()

    # -- building and updating -------------------------------------------------------------------

    @classmethod
    def build(cls, chunks: Iterable[Chunk], tokens: str = "char4", directory: Path | None = None) \
            -> "LexicalIndex":
        """An index of ``chunks`` (read in batches, so a store can be streamed in); with
        ``directory`` its table is written there directly and ``save`` completes it."""
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            for old in directory.iterdir():  # this or an older format: the table is rebuilt from scratch
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        index = cls(tokens, _ChunkTable.open(directory / _TABLE if directory else None, writable=True), directory)
        batch: list[Chunk] = []
        for chunk in chunks:
            batch.append(chunk)
            if len(batch) >= 2000:
                index.apply(batch, [])
                batch = []
        index.apply(batch, [])
        return index

    def apply(self, added: list[Chunk], removed: Iterable[str]) -> None:
        """Remove chunks by id and add (or replace) chunks, tokenising only those."""
        added = list({c.chunk_id: c for c in added}.values())
        gone = [i for i in dict.fromkeys([*removed, *(c.chunk_id for c in added)]) if i in self._row]
        if not gone and not added:
            return
        for chunk in self._table.get(gone).values():
            self._count(chunk, -1)
        keep = np.ones(len(self._ids), dtype=bool)
        keep[[self._row[i] for i in gone]] = False
        if gone:
            self._merge()
            self._tf = _drop_rows(self._tf, keep)
        rows, cols, values, lengths = [], [], [], []
        first = int(keep.sum())
        for r, chunk in enumerate(added, start=first):
            self._count(chunk, +1)
            tokens = self._tokenize(chunk.embed_text)
            lengths.append(max(1, len(tokens)))  # an empty chunk counts one token, as in bm25s
            for gram, n in Counter(tokens).items():
                rows.append(r)
                cols.append(self._grams.setdefault(gram, len(self._grams)))
                values.append(n)
        if rows:
            self._pending.append((np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
                                  np.asarray(values, dtype=np.float32)))
        self._ids = [i for i, k in zip(self._ids, keep, strict=True) if k] + [c.chunk_id for c in added]
        self._lengths = np.concatenate([self._lengths[keep], np.asarray(lengths, dtype=np.int64)])
        self._types = np.concatenate([self._types[keep], np.asarray([c.meta.doc_type for c in added], dtype=str)])
        self._dates = np.concatenate([self._dates[keep],
                                      np.asarray([c.meta.date_num for c in added], dtype=np.int64)])
        self._table.replace(gone, added)
        for counter in (self.vocabulary, self.doc_freq, self.known):
            for key in [k for k, v in counter.items() if v <= 0]:
                del counter[key]
        if sum(len(r) for r, _, _ in self._pending) > max(2_000_000, self._tf.nnz // 4):
            self._merge()  # bounded memory; merging when the pending part is a quarter keeps the total work linear
        self._refresh()

    def _merge(self) -> None:
        """Bring the pending rows into the matrix."""
        if len(self._ids) == self._tf.shape[0] and len(self._grams) == self._tf.shape[1] and not self._pending:
            return
        parts = self._pending or [(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))]
        rows, cols, values = (np.concatenate(p) for p in zip(*parts, strict=True))
        self._tf = _append_rows(self._tf, rows, cols, values, len(self._ids), len(self._grams))
        self._pending = []

    def _count(self, chunk: Chunk, sign: int) -> None:
        for word, n in Counter(w for w in words(chunk.embed_text) if not w.isdigit()).items():
            self.vocabulary[word] += sign * n
        for stem in set(stem_tokens(chunk.embed_text)):
            self.doc_freq[stem] += sign
        for word in known_words([chunk.text]):
            self.known[word] += sign

    def _refresh(self) -> None:
        self._row = {cid: r for r, cid in enumerate(self._ids)}
        self._id_array = np.asarray(self._ids, dtype=object)
        n = len(self._ids)
        average = int(self._lengths.sum()) / n if n else 1.0  # an integer sum: the same in any row order
        self._norm = (K1 * (1 - B + B * self._lengths / average)).astype(np.float32)

    # -- persistence ----------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self._path != directory:
            (directory / _TABLE).unlink(missing_ok=True)
            self._table.save_to(directory / _TABLE)
        self._merge()
        tf = self._tf
        with open(directory / (_MATRIX + ".tmp"), "wb") as handle:
            np.savez(handle, data=tf.data, indices=tf.indices, indptr=tf.indptr, shape=np.asarray(tf.shape),
                     lengths=self._lengths, types=self._types, dates=self._dates, ids=np.asarray(self._ids, dtype=str))
        (directory / (_MATRIX + ".tmp")).replace(directory / _MATRIX)
        terms = {"format": FORMAT, "tokens": self.tokens, "grams": list(self._grams), "vocabulary": self.vocabulary,
                 "doc_freq": self.doc_freq, "known": self.known}
        (directory / (_TERMS + ".tmp")).write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        (directory / (_TERMS + ".tmp")).replace(directory / _TERMS)

    @staticmethod
    def exists(directory: Path) -> bool:
        try:
            return json.loads((directory / _TERMS).read_text(encoding="utf-8")).get("format") == FORMAT
        except (FileNotFoundError, ValueError):
            return False

    @classmethod
    def load(cls, directory: Path, writable: bool = False) -> "LexicalIndex | None":
        """The saved index, or None if there is none in this format (it is then built again)."""
        if not cls.exists(directory):
            return None
        terms = json.loads((directory / _TERMS).read_text(encoding="utf-8"))
        index = cls(terms["tokens"], _ChunkTable.open(directory / _TABLE, writable), directory)
        with np.load(directory / _MATRIX) as saved:
            index._tf = sp.csc_matrix((saved["data"], saved["indices"], saved["indptr"]),
                                      shape=tuple(saved["shape"]))
            index._lengths, index._types, index._dates = saved["lengths"], saved["types"], saved["dates"]
            index._ids = saved["ids"].tolist()
        index._grams = {g: i for i, g in enumerate(terms["grams"])}
        index.vocabulary, index.doc_freq = Counter(terms["vocabulary"]), Counter(terms["doc_freq"])
        index.known = Counter(terms["known"])
        index._refresh()
        return index

    def close(self) -> None:
        self._table.close()

    # -- reading --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> set[str]:
        return set(self._ids)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self._table.get([chunk_id]).get(chunk_id)

    def at(self, doc_id: str, index: int) -> Chunk | None:
        """The chunk at a position in its document (the passage after an introduction)."""
        return self._table.at(doc_id, index)

    def document(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in reading order."""
        return self._table.document(doc_id)

    def documents(self) -> list[tuple[Chunk, int]]:
        """Each document's first chunk and its number of chunks."""
        return self._table.documents()

    def iter_chunks(self) -> Iterator[Chunk]:
        return self._table.iter_all()

    def idf(self, stem: str) -> float:
        n = max(len(self._ids), 1)
        df = self.doc_freq.get(stem, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk (row order) for the query's tokens; a repeated token counts again."""
        self._merge()
        scores = np.zeros(len(self._ids), dtype=np.float32)
        n = len(self._ids)
        indptr, rows_of, tfs = self._tf.indptr, self._tf.indices, self._tf.data
        for col, times in Counter(self._grams[t] for t in self._tokenize(query) if t in self._grams).items():
            start, end = indptr[col], indptr[col + 1]
            if start == end:
                continue
            df = end - start
            idf = np.float32(math.log(1 + (n - df + 0.5) / (df + 0.5)))
            rows, tf = rows_of[start:end], tfs[start:end]
            scores[rows] += times * idf * tf / (tf + self._norm[rows])
        return scores

    def _mask(self, flt: SearchFilter) -> np.ndarray:
        mask = np.ones(len(self._ids), dtype=bool)
        if flt.doc_types:
            mask &= np.isin(self._types, list(flt.doc_types))
        if flt.date_from:
            mask &= self._dates >= date_bound(flt.date_from, low=True)
        if flt.date_to:
            mask &= self._dates <= date_bound(flt.date_to, low=False)
        return mask

    def admitted(self, flt: SearchFilter) -> set[str]:
        """The ids of the chunks the filter lets through (for the dense side of a filtered search)."""
        return set(self._id_array[self._mask(flt)].tolist())

    def search(self, query: str, k: int, flt: SearchFilter) -> list[tuple[Chunk, float]]:
        """Top-k chunks by score; equal scores in chunk-id order, so row order never matters."""
        if not self._ids:
            return []
        scores = self.scores(query)
        if not flt.is_empty():
            scores = np.where(self._mask(flt), scores, np.float32(0))
        rows = np.flatnonzero(scores > 0)
        if len(rows) > k:
            kth = np.partition(scores[rows], len(rows) - k)[len(rows) - k]
            rows = rows[scores[rows] >= kth]
        best = sorted(rows.tolist(), key=lambda r: (-scores[r], self._ids[r]))[:k]
        chunks = self._table.get([self._ids[r] for r in best])
        return [(chunks[self._ids[r]], float(scores[r])) for r in best]

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
