"""Incremental ingest: a manifest of content hashes decides what to add, replace or delete.

Unchanged files are skipped without being read twice; a changed file has its old chunks replaced;
a file removed from a scanned folder has its chunks deleted; a broken file is reported and skipped
(its previous chunks, if any, stay). The lexical index takes the same changes as the store, batch by
batch, tokenising only the chunks added or removed; it is built from the store when there is none (or
its token setting changed). All of it is written into a generation of its own (``kb.generations``),
which the caller switches to.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from kb.config import IngestSettings
from kb.embeddings import CachedEmbeddings
from kb.errors import BadFileError
from kb.lexical import LexicalIndex
from kb.store import VectorStore
from kb.types import Chunk
from kb.units import units_of

from .catalog import document_meta, sidecar_path
from .chunk import chunk_document
from .clean import clean
from .load import LoadError, check_size, is_document, load

log = logging.getLogger(__name__)


# The format of what ingest writes: bump it whenever loading, cleaning, chunking, a chunk's embedded
# text, the quotable units or the lexical tokens change, and every file is re-chunked on the next
# ingest (the embedding cache keeps that cheap for text that did not change).
INGEST_FORMAT = "2026-11-30.5"  # .5: matter and relations in the chunk metadata


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)  # relations between documents for a person to confirm
    chunks_written: int = 0
    embedded: int = 0
    embeddings_reused: int = 0
    index_rebuilt: bool = False  # the lexical index was built anew (none, an older format, other tokens)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass
class _Discovered:
    path: Path
    source: str  # path relative to the folder it was found in; the document's id
    root: Path | None


def discover(paths: Iterable[Path]) -> tuple[list[_Discovered], list[tuple[str, str]]]:
    """The documents under the given files and folders, and those refused with a reason. A symbolic
    link inside a folder is followed only when its target lies in the same folder (a link to
    /etc/passwd is never read); a file reached twice is ingested once."""
    found: list[_Discovered] = []
    refused: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            root = path.resolve()
            for p in sorted(path.rglob("*")):
                if not is_document(p):
                    continue
                if p.is_symlink() and not p.resolve().is_relative_to(root):
                    refused.append((str(p), "symbolsk link til en fil uden for mappen; følges ikke"))
                elif p.resolve() not in seen:
                    seen.add(p.resolve())
                    found.append(_Discovered(p, p.relative_to(path).as_posix(), root))
        elif path.exists():
            if path.resolve() not in seen:
                seen.add(path.resolve())
                found.append(_Discovered(path, path.name, None))
        else:
            raise FileNotFoundError(f"Findes ikke: {path}")
    return found, refused


def file_hash(path: Path, fingerprint: str) -> str:
    """The file's content hash (with its sidecar and the ingest fingerprint). Remembered by size and
    modification time, so deciding whether there is work and then doing it reads each file once."""
    sidecar = sidecar_path(path)
    sidecar_stamp = (sidecar.stat().st_size, sidecar.stat().st_mtime_ns) if sidecar.exists() else None
    stat = path.stat()
    return _content_hash(str(path.resolve()), stat.st_size, stat.st_mtime_ns, sidecar_stamp, fingerprint)


@lru_cache(maxsize=65536)
def _content_hash(path: str, size: int, mtime_ns: int, sidecar_stamp: tuple[int, int] | None,
                  fingerprint: str) -> str:
    digest = hashlib.sha256(fingerprint.encode())
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    sidecar = sidecar_path(Path(path))
    if sidecar_stamp is not None:
        digest.update(b"\x00sidecar\x00" + sidecar.read_bytes())
    return digest.hexdigest()


def _known(item: _Discovered, manifest: Manifest, fingerprint: str, chunking: IngestSettings) \
        -> tuple[str, str, dict | None]:
    """(manifest key, content hash, manifest entry or None) for a file that may be read; raises
    BadFileError (too large) or OSError (unreadable)."""
    check_size(item.path, chunking)
    key = str(item.path.resolve())
    return key, file_hash(item.path, fingerprint), manifest.documents.get(key)


class Manifest:
    def __init__(self, path: Path) -> None:
        self.path = path
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        self.documents: dict[str, dict] = data.get("documents", {})

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"documents": self.documents}, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self.path)


def prepare(item: _Discovered, chunking: IngestSettings) -> list[Chunk]:
    raw = load(item.path, chunking)
    doc = clean(raw.text)
    if not doc.blocks:
        raise LoadError("ingen tekst tilbage efter rensning")
    doc_id = item.source.rsplit(".", 1)[0]
    meta = document_meta(item.path, doc_id, item.source, doc)
    return chunk_document(meta, doc, chunking.chunk_size, chunking.chunk_min_size)


def ingest(paths: list[Path], store: VectorStore, embeddings: CachedEmbeddings, manifest: Manifest, *,
           lexical_dir: Path, chunking: IngestSettings, lexical_tokens: str,
           progress: Callable[[int, int, str], None] = lambda done, total, source: None) -> IngestReport:
    """Bring the store, the manifest and the lexical index up to date with the files. The caller
    holds the writer lock and gives a generation of its own to write into (``kb.generations``)."""
    return _ingest(paths, store, embeddings, manifest, lexical_dir, chunking, lexical_tokens, progress)


def fingerprint_of(chunking: IngestSettings, model_id: str) -> str:
    """What a file's hash includes besides its bytes: a change here re-chunks every file."""
    return f"{INGEST_FORMAT}:{chunking.chunk_size}:{chunking.chunk_min_size}:{model_id}"


def has_work(paths: list[Path], manifest: Manifest, chunking: IngestSettings, model_id: str,
             lexical_dir: Path) -> bool:
    """Whether an ingest of ``paths`` would change anything (only hashes are computed): a new or
    changed file, a removed one, or no lexical index yet. Files refused before reading (too large,
    unreadable) count as no work; a new file that then fails to parse costs a generation that is
    dropped again because nothing changed."""
    discovered, _ = discover(paths)
    fingerprint = fingerprint_of(chunking, model_id)
    for item in discovered:
        try:
            _, digest, previous = _known(item, manifest, fingerprint, chunking)
        except (BadFileError, OSError):
            continue
        if previous is None or previous["hash"] != digest:
            return True
    return bool(_removed(manifest, discovered, paths)) or not LexicalIndex.exists(lexical_dir)


def _removed(manifest: Manifest, discovered: list[_Discovered], paths: list[Path]) -> list[str]:
    """Manifest keys of files that were in a scanned folder and are gone."""
    seen = {str(d.path.resolve()) for d in discovered}
    roots = {d.root for d in discovered if d.root is not None} | {p.resolve() for p in paths if p.is_dir()}
    return [key for key in manifest.documents
            if key not in seen and any(Path(key).is_relative_to(root) for root in roots)]


@dataclass
class _Pending:
    key: str
    source: str
    digest: str
    chunks: list[Chunk]
    previous: dict | None


def _write(batch: list[_Pending], store: VectorStore, embeddings: CachedEmbeddings, manifest: Manifest,
           lexical: LexicalIndex, report: IngestReport, slice_chunks: int) -> None:
    """Embed, store and index a batch of prepared documents in slices of ``slice_chunks`` (large
    enough for the embedder's fastest runtime, small enough that memory does not grow with a
    document's length), then record them in the manifest."""
    chunks = [c for p in batch for c in p.chunks]
    # Chunks of the documents' previous versions that the new versions do not have.
    stale = [i for p in batch if p.previous
             for i in p.previous["chunk_ids"] if i not in {c.chunk_id for c in p.chunks}]
    for i in range(0, len(chunks), slice_chunks):
        part = chunks[i:i + slice_chunks]
        vectors = embeddings.embed_array([c.embed_text for c in part])
        # Warm the cache with every quotable sentence so answering never embeds at question time.
        embeddings.embed_array([c.text[s:e] for c in part for s, e in units_of(c)])
        store.upsert(part, vectors)
        lexical.apply(part, stale if i == 0 else [])
    for p in batch:
        new_ids = [c.chunk_id for c in p.chunks]
        manifest.documents[p.key] = {"hash": p.digest, "source": p.source, "chunk_ids": new_ids,
                                     "title": p.chunks[0].meta.title}
        (report.updated if p.previous else report.added).append(p.source)
        report.chunks_written += len(p.chunks)
    store.delete(stale)
    manifest.save()
    batch.clear()


def _skip(report: IngestReport, path: str, reason: str) -> None:
    report.failed.append((path, reason))
    log.warning("Springer over %s: %s", path, reason)


def _ingest(paths: list[Path], store: VectorStore, embeddings: CachedEmbeddings, manifest: Manifest,
            lexical_dir: Path, chunking: IngestSettings, lexical_tokens: str,
            progress: Callable[[int, int, str], None], batch_chunks: int = 512) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport()
    computed0, reused0 = embeddings.computed, embeddings.reused
    fingerprint = fingerprint_of(chunking, embeddings.model_id)
    discovered, refused = discover(paths)
    for path, reason in refused:
        _skip(report, path, reason)
    lexical = LexicalIndex.load(lexical_dir, writable=True)
    rebuilt = lexical is None or lexical.tokens != lexical_tokens
    report.index_rebuilt = rebuilt and store.count() > 0  # not on a first ingest: nothing was there to rebuild
    if rebuilt:  # none yet, an older format or another token setting: built from the store as it is now
        if lexical is not None:
            lexical.close()
        lexical = LexicalIndex.build(store.iter_chunks(), lexical_tokens, lexical_dir)
    batch: list[_Pending] = []
    for done, item in enumerate(discovered):
        progress(done, len(discovered), item.source)
        try:
            key, digest, previous = _known(item, manifest, fingerprint, chunking)
            if previous and previous["hash"] == digest:
                report.unchanged.append(item.source)
                continue
            chunks = prepare(item, chunking)
        except BadFileError as exc:  # an expected, reported problem with this file; anything else is a bug
            _skip(report, str(item.path), str(exc))
            continue
        except OSError as exc:
            _skip(report, str(item.path), f"kan ikke læses: {exc.strerror or exc}")
            continue
        if chunks[0].meta.guessed:
            report.warnings.append(f"{item.source}: ingen metadatafil ({sidecar_path(item.path).name}); "
                                   "titel, type og dato er gættet")
        batch.append(_Pending(key, item.source, digest, chunks, previous))
        if sum(len(p.chunks) for p in batch) >= batch_chunks:
            _write(batch, store, embeddings, manifest, lexical, report, batch_chunks)
    if batch:
        _write(batch, store, embeddings, manifest, lexical, report, batch_chunks)
    for key in _removed(manifest, discovered, paths):
        entry = manifest.documents.pop(key)
        store.delete(entry["chunk_ids"])
        lexical.apply([], entry["chunk_ids"])
        report.removed.append(entry["source"])
    if report.removed:
        manifest.save()
    progress(len(discovered), len(discovered), "")
    if report.changed or rebuilt:
        lexical.save(lexical_dir)
    lexical.close()
    report.embedded = embeddings.computed - computed0
    report.embeddings_reused = embeddings.reused - reused0
    report.seconds = time.perf_counter() - started
    return report
