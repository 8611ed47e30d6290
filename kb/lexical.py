"""Lexical retrieval: BM25 over a term-frequency matrix that is updated in place, beside the store.

Retrieval tokens are character 4-grams of letter-folded words by default ("char4"), or Danish
stems ("word"); either way the index also keeps the stemmed vocabulary and document frequencies
that spelling repair, term coverage and abstention use, and the words name masking leaves alone.

Scoring is BM25 as bm25s computes it (Lucene idf and term weight, k1 1.5, b 0.75), but from raw
term frequencies at query time rather than from precomputed weights: a precomputed index depends
on every document's length and every term's document frequency, so adding one document meant
re-tokenising the whole corpus. Here an ingest tokenises only the chunks it adds or removes
(``apply``), and a full ``build`` is the same operation from empty, so the two give the same
ranking. A change does not touch the main matrix either: removed rows are marked dead and added rows
go to a small tail matrix, until a compaction at a quarter of the main matrix. Chunk texts and
metadata live in an SQLite table and are read when a hit needs them; filters use arrays of document
type, issuer and date, not a loop over chunks.

Files in the index folder: ``chunks.sqlite`` (the table), ``main-*.frozen.npy`` (the main matrix,
memory-mapped; rewritten only by a compaction), ``rows.npz`` (the tail, which rows are live, lengths,
types, issuers, dates, ids) and ``terms.json`` (tokens, vocabularies; written last, so it marks a complete
index).
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
from .generations import FROZEN
from .privacy import known_words
from .text import char_ngrams, fold, stem_tokens, words
from .types import Chunk, SearchFilter, date_bound

FORMAT = 5  # 5: issuers per row (the issuer filter); types and issuers as codes
_TERMS, _ROWS, _TABLE = "terms.json", "rows.npz", "chunks.sqlite"
_MAIN = "main-{}" + FROZEN + ".npy"  # written once per compaction; generations share it by hard link
K1, B = 1.5, 0.75  # bm25s defaults, which the rest of the pipeline was tuned with
_COUNT = np.uint16  # a token's count in one chunk; half the memory of the float32 scores are computed in

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
        """Each document's first chunk and its number of chunks, in one query (thousands of documents)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.text, c.meta, g.n FROM chunks c JOIN (SELECT doc_id, COUNT(*) AS n, MIN(idx) AS low "
                "FROM chunks GROUP BY doc_id) g ON c.doc_id = g.doc_id AND c.idx = g.low ORDER BY c.doc_id").fetchall()
        return [(Chunk.from_store(cid, text, json.loads(meta)), n) for cid, text, meta, n in rows]

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


# Entries of the main matrix read at a time while it is rewritten: the merge holds about 55 bytes per
# entry of a block (220 MB at 4M, the largest part of a 10 MB ingest's peak; that ingest took 50 s with
# 1M blocks against 58 s with 4M, on a shared machine).
_BLOCK = 1_000_000


def _merged(main: sp.csc_matrix, read, tail: sp.csc_matrix, live: np.ndarray, width: int, emit) -> np.ndarray:
    """Stream the live entries of ``main`` and ``tail`` (its rows numbered after main's) column block
    by column block into ``emit(rows, counts)``, rows renumbered without the dead ones; returns the
    new column pointers. ``read(start, end)`` gives main's (indices, data) entries in that range, so a
    main matrix on disk is read a block at a time and never held whole."""
    height = main.shape[0]
    renumber = (np.cumsum(live) - 1).astype(np.int32)
    counts = np.zeros(width + 1, dtype=np.int64)
    start = 0
    while start < width:
        end = width
        if start < main.shape[1]:  # about _BLOCK of main's entries, at least one column
            end = int(np.searchsorted(main.indptr, main.indptr[start] + _BLOCK, side="right")) - 1
            end = min(max(end, start + 1), main.shape[1])
        rows, cols, values = [], [], []
        for matrix, offset, entries in ((main, 0, read), (tail, height, None)):
            stop = min(end, matrix.shape[1])
            if start >= stop:
                continue
            first, last = int(matrix.indptr[start]), int(matrix.indptr[stop])
            index, data = entries(first, last) if entries else (matrix.indices[first:last], matrix.data[first:last])
            at = index.astype(np.int64) + offset
            column = np.repeat(np.arange(start, stop, dtype=np.int32), np.diff(matrix.indptr[start:stop + 1]))
            keep = live[at]
            rows.append(renumber[at[keep]])
            cols.append(column[keep])
            values.append(data[keep])
        if rows:
            column = np.concatenate(cols)
            order = np.argsort(column, kind="stable")  # main's entries before the tail's: rows stay sorted
            emit(np.concatenate(rows)[order], np.concatenate(values)[order].astype(_COUNT))
            counts[start + 1:end + 1] = np.bincount(column - start, minlength=end - start)
        start = end
    return np.cumsum(counts)


class _Labels:
    """A text column (a row's document type or issuer) as integer codes into its distinct values: 4 bytes
    a row, where a numpy string array takes 4 bytes per character of the longest value."""

    def __init__(self, names: list[str] | None = None, codes: np.ndarray | None = None) -> None:
        self.names = list(names or [])
        self._code = {name: i for i, name in enumerate(self.names)}
        self.codes = np.zeros(0, dtype=np.int32) if codes is None else codes

    def extend(self, values: list[str]) -> None:
        for value in values:
            if value not in self._code:
                self._code[value] = len(self.names)
                self.names.append(value)
        self.codes = np.concatenate([self.codes, np.asarray([self._code[v] for v in values], dtype=np.int32)])

    def isin(self, wanted: Iterable[str]) -> np.ndarray:
        return np.isin(self.codes, [self._code[w] for w in wanted if w in self._code])


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


def _empty(width: int) -> sp.csc_matrix:
    return sp.csc_matrix((np.zeros(0, _COUNT), np.zeros(0, np.int32), np.zeros(width + 1, np.int32)),
                         shape=(0, width))


def _write(path: Path, write) -> None:
    """Write a file whole under a temporary name and rename it into place: a file another generation
    links to is replaced, never changed."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        write(handle)
    tmp.replace(path)


class LexicalIndex:
    # An ingest leaves the main matrix alone (removed rows are marked dead, added rows go to a small
    # tail matrix) until dead rows or the tail reach this share of it; then one compaction rewrites it.
    COMPACT_AT = 0.25
    COMPACT_MIN_ENTRIES = 1_000_000  # a small index is compacted only when a tail of this size builds up
    # ... and a large one before the tail (in memory, with its pending entries) passes this: a long ingest
    # then rewrites the main matrix more often (a streamed pass, seconds at 100k chunks) but its memory
    # stays the same whatever the corpus's size.
    COMPACT_MAX_ENTRIES = 2_000_000

    def __init__(self, tokens: str, table: _ChunkTable, path: Path | None) -> None:
        if tokens not in TOKENIZERS:
            raise ConfigError(f"Ukendt KB_LEXICAL_TOKENS={tokens!r}; vælg {' eller '.join(TOKENIZERS)}.")
        self.tokens = tokens
        self._tokenize = TOKENIZERS[tokens]
        self._table, self._path = table, path
        self._grams: dict[str, int] = {}
        # Rows are chunks, columns tokens. Rows below the main matrix's height live in it (memory-mapped
        # from disk when loaded), the rest in the tail; a removed chunk's row stays until compaction,
        # marked not live, and the tokens it had are counted in ``_dead_df`` so document frequencies
        # stay those of the live rows.
        self._main = _empty(0)
        self._main_saved = False  # the main matrix's files in ``_path`` are this matrix
        self._main_files: dict[str, tuple[str, int, np.dtype]] | None = None  # (file, data offset, dtype)
        self._tail = _empty(0)  # rows numbered from 0 = the first row after the main matrix
        # Entries of rows added since the tail was last rebuilt, as (rows, columns, counts) arrays:
        # folding them in costs a pass over the tail, so an ingest does it once, not per slice.
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._dead_df = np.zeros(0, dtype=np.int64)
        self._ids: list[str] = []
        self._row: dict[str, int] = {}  # live chunk id -> row
        self._live = np.zeros(0, dtype=bool)
        self._lengths = np.zeros(0, dtype=np.int64)
        self._types, self._issuers = _Labels(), _Labels()
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
            self._dead_df[[self._grams[g] for g in set(self._tokenize(chunk.embed_text))]] += 1
            self._live[self._row.pop(chunk.chunk_id)] = False
        rows, cols, values, lengths = [], [], [], []
        for r, chunk in enumerate(added, start=len(self._ids)):
            self._count(chunk, +1)
            tokens = self._tokenize(chunk.embed_text)
            lengths.append(max(1, len(tokens)))  # an empty chunk counts one token, as in bm25s
            for gram, n in Counter(tokens).items():
                rows.append(r - self._main.shape[0])
                cols.append(self._grams.setdefault(gram, len(self._grams)))
                values.append(n)
            self._row[chunk.chunk_id] = r
        if rows:
            self._pending.append((np.asarray(rows, dtype=np.int32), np.asarray(cols, dtype=np.int32),
                                  np.asarray(values, dtype=_COUNT)))
        self._dead_df = np.concatenate([self._dead_df, np.zeros(len(self._grams) - len(self._dead_df), np.int64)])
        self._ids += [c.chunk_id for c in added]
        self._live = np.concatenate([self._live, np.ones(len(added), dtype=bool)])
        self._lengths = np.concatenate([self._lengths, np.asarray(lengths, dtype=np.int64)])
        self._types.extend([c.meta.doc_type for c in added])
        self._issuers.extend([c.meta.issuer for c in added])
        self._dates = np.concatenate([self._dates, np.asarray([c.meta.date_num for c in added], dtype=np.int64)])
        self._table.replace(gone, added)
        for counter in (self.vocabulary, self.doc_freq, self.known):
            for key in [k for k, v in counter.items() if v <= 0]:
                del counter[key]
        tail_entries = self._tail.nnz + sum(len(r) for r, _, _ in self._pending)
        dead = len(self._ids) - len(self._row)
        # At a share of the matrix (so that the work of many small ingests stays linear), or a fixed size.
        limit = max(self.COMPACT_MIN_ENTRIES, min(self._main.nnz * self.COMPACT_AT, self.COMPACT_MAX_ENTRIES))
        if tail_entries > limit or dead > len(self._ids) * self.COMPACT_AT:
            self._compact()
        self._refresh()

    def _fold(self) -> None:
        """Bring the pending rows into the tail (one pass over the tail)."""
        if not self._pending and self._tail.shape[1] == len(self._grams):
            return
        parts = self._pending or [(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, _COUNT))]
        rows, cols, values = (np.concatenate(p) for p in zip(*parts, strict=True))
        self._tail = _append_rows(self._tail, rows, cols, values, len(self._ids) - self._main.shape[0],
                                  len(self._grams))
        self._pending = []

    def _compact(self) -> None:
        """One matrix of the live rows: dead rows dropped, the tail appended, rows renumbered. An index
        with a folder writes it there as it goes (memory stays at one block, whatever the corpus)."""
        self._fold()
        width, live = len(self._grams), int(self._live.sum())
        if self._path is None:
            parts: list[tuple[np.ndarray, np.ndarray]] = []
            indptr = _merged(self._main, self._read_main, self._tail, self._live, width,
                             lambda rows, values: parts.append((rows, values)))
            rows, values = (np.concatenate(p) if p else np.zeros(0, d) for p, d in
                            (([r for r, _ in parts], np.int32), ([v for _, v in parts], _COUNT)))
            self._main = sp.csc_matrix((values, rows, indptr), shape=(live, width), copy=False)
            self._main_saved = False
        else:
            self._main = self._write_main(width, live)
        self._tail = _empty(width)
        keep = self._live
        self._ids = [i for i, k in zip(self._ids, keep, strict=True) if k]
        self._row = {cid: r for r, cid in enumerate(self._ids)}
        self._lengths, self._dates = self._lengths[keep], self._dates[keep]
        for labels in (self._types, self._issuers):
            labels.codes = labels.codes[keep]
        self._live = np.ones(len(self._ids), dtype=bool)
        self._dead_df = np.zeros(width, dtype=np.int64)

    def _read_main(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """Main's entries ``first:last``: from its files when it is on disk (read, not mapped, so a
        rewrite does not pull the whole matrix into this process), else from memory."""
        if self._main_files is None:
            return self._main.indices[first:last], self._main.data[first:last]
        return tuple(np.fromfile(name, dtype=dtype, count=last - first, offset=start + first * np.dtype(dtype).itemsize)
                     for name, start, dtype in (self._main_files["indices"], self._main_files["data"]))

    def _write_main(self, width: int, live: int) -> sp.csc_matrix:
        """Stream the compacted main matrix into ``_path`` (under temporary names, renamed when whole)."""
        assert self._path is not None
        nnz = self._main.nnz + self._tail.nnz - int(self._dead_df.sum())  # a dead row left one entry per column
        names = {p: self._path / _MAIN.format(p) for p in ("indices", "data", "indptr")}
        tmp = {p: n.with_name(n.name + ".tmp") for p, n in names.items()}
        with open(tmp["indices"], "wb") as indices, open(tmp["data"], "wb") as data:
            for handle, dtype in ((indices, np.int32), (data, _COUNT)):
                np.lib.format.write_array_header_1_0(handle, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                              "fortran_order": False, "shape": (nnz,)})

            def emit(rows: np.ndarray, values: np.ndarray) -> None:  # the arrays' buffers, not copies
                indices.write(np.ascontiguousarray(rows, dtype=np.int32))
                data.write(np.ascontiguousarray(values))

            indptr = _merged(self._main, self._read_main, self._tail, self._live, width, emit)
        assert indptr[-1] == nnz, (indptr[-1], nnz)
        with open(tmp["indptr"], "wb") as handle:
            np.save(handle, indptr.astype(np.int64))
        for part in names:
            tmp[part].replace(names[part])
        self._main_saved = True
        return self._open_main(self._path, (live, width))

    def _open_main(self, directory: Path, shape: tuple[int, int]) -> sp.csc_matrix:
        arrays = {p: np.load(directory / _MAIN.format(p), mmap_mode="r") for p in ("data", "indices", "indptr")}
        self._main_files = {p: (str(directory / _MAIN.format(p)), int(a.offset), a.dtype) for p, a in arrays.items()}
        return sp.csc_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape, copy=False)

    def _count(self, chunk: Chunk, sign: int) -> None:
        for word, n in Counter(w for w in words(chunk.embed_text) if not w.isdigit()).items():
            self.vocabulary[word] += sign * n
        for stem in set(stem_tokens(chunk.embed_text)):
            self.doc_freq[stem] += sign
        for word in known_words([chunk.text]):
            self.known[word] += sign

    def _refresh(self) -> None:
        self._id_array = np.asarray(self._ids, dtype=object)
        self._all_live = bool(self._live.all())
        lengths = self._lengths[self._live]
        average = int(lengths.sum()) / len(lengths) if len(lengths) else 1.0  # an integer sum: any row order
        self._norm = (K1 * (1 - B + B * self._lengths / average)).astype(np.float32)

    # -- persistence ----------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self._path != directory:
            (directory / _TABLE).unlink(missing_ok=True)
            self._table.save_to(directory / _TABLE)
            self._main_saved = False
        if not self._main_saved:
            for part in ("data", "indices", "indptr"):
                _write(directory / _MAIN.format(part), lambda handle, p=part: np.save(handle, getattr(self._main, p)))
            self._main = self._open_main(directory, self._main.shape)  # from now on read from there
            self._main_saved = True
        self._fold()
        tail = self._tail
        _write(directory / _ROWS, lambda handle: np.savez(
            handle, main_shape=np.asarray(self._main.shape), tail_data=tail.data, tail_indices=tail.indices,
            tail_indptr=tail.indptr, dead_df=self._dead_df, live=self._live, lengths=self._lengths,
            types=self._types.codes, type_names=np.asarray(self._types.names, dtype=str), issuers=self._issuers.codes,
            issuer_names=np.asarray(self._issuers.names, dtype=str), dates=self._dates, ids=np.asarray(self._ids, dtype=str)))
        terms = {"format": FORMAT, "tokens": self.tokens, "grams": list(self._grams), "vocabulary": self.vocabulary,
                 "doc_freq": self.doc_freq, "known": self.known}
        _write(directory / _TERMS, lambda handle: handle.write(json.dumps(terms, ensure_ascii=False).encode()))
        self._path = directory

    @staticmethod
    def exists(directory: Path) -> bool:
        try:
            return json.loads((directory / _TERMS).read_text(encoding="utf-8")).get("format") == FORMAT
        except (FileNotFoundError, ValueError):
            return False

    @classmethod
    def load(cls, directory: Path, writable: bool = False) -> "LexicalIndex | None":
        """The saved index, or None if there is none in this format (it is then built again). The main
        matrix is memory-mapped: a process reads the columns its questions touch, and processes
        reading the same generation share its pages."""
        if not cls.exists(directory):
            return None
        terms = json.loads((directory / _TERMS).read_text(encoding="utf-8"))
        index = cls(terms["tokens"], _ChunkTable.open(directory / _TABLE, writable), directory)
        with np.load(directory / _ROWS) as saved:
            height, width = (int(n) for n in saved["main_shape"])
            index._main = index._open_main(directory, (height, width))
            index._main_saved = True
            index._live, index._dead_df = saved["live"], saved["dead_df"]
            index._tail = sp.csc_matrix((saved["tail_data"], saved["tail_indices"], saved["tail_indptr"]),
                                        shape=(len(index._live) - height, len(index._dead_df)))
            index._lengths, index._dates = saved["lengths"], saved["dates"]
            index._types = _Labels(saved["type_names"].tolist(), saved["types"])
            index._issuers = _Labels(saved["issuer_names"].tolist(), saved["issuers"])
            index._ids = saved["ids"].tolist()
        index._row = {cid: r for r, cid in enumerate(index._ids) if index._live[r]}
        index._grams = {g: i for i, g in enumerate(terms["grams"])}
        index.vocabulary, index.doc_freq = Counter(terms["vocabulary"]), Counter(terms["doc_freq"])
        index.known = Counter(terms["known"])
        index._refresh()
        return index

    def close(self) -> None:
        self._table.close()

    # -- reading --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._row)

    def ids(self) -> set[str]:
        return set(self._row)

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
        n = max(len(self._row), 1)
        df = self.doc_freq.get(stem, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for the query's tokens (0 for rows no longer live); a repeated
        token counts again."""
        self._fold()
        scores = np.zeros(len(self._ids), dtype=np.float32)
        n, height = len(self._row), self._main.shape[0]
        parts = [(m, offset) for m, offset in ((self._main, 0), (self._tail, height)) if m.nnz]
        for col, times in Counter(self._grams[t] for t in self._tokenize(query) if t in self._grams).items():
            spans = [(m, offset, m.indptr[col], m.indptr[col + 1]) for m, offset in parts if col < m.shape[1]]
            df = sum(int(end - start) for _, _, start, end in spans) - int(self._dead_df[col])
            if df <= 0:
                continue
            idf = np.float32(math.log(1 + (n - df + 0.5) / (df + 0.5)))
            for m, offset, start, end in spans:
                rows, tf = m.indices[start:end] + offset, m.data[start:end]
                scores[rows] += times * idf * tf / (tf + self._norm[rows])
        if not self._all_live:
            scores[~self._live] = 0
        return scores

    def _mask(self, flt: SearchFilter) -> np.ndarray:
        mask = self._live.copy()
        if flt.doc_types:
            mask &= self._types.isin(flt.doc_types)
        if flt.issuers:
            mask &= self._issuers.isin(flt.issuers)
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
