"""Section-aware chunking: split at headings first, then pack blocks (and, for long blocks,
sentences) up to a target size. Chunks are contiguous spans of the cleaned text, so their
offsets point back into the document and their text is quotable verbatim."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from kb.text import split_sentences
from kb.types import Block, Chunk, CleanDocument, DocumentMeta


@dataclass
class _Section:
    path: tuple[str, ...]
    spans: list[tuple[int, int]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(e - s for s, e in self.spans)


def _sections(doc: CleanDocument, size: int) -> list[_Section]:
    sections: list[_Section] = []
    stack: list[Block] = []
    current = _Section(path=())
    for block in doc.blocks:
        if block.kind == "heading":
            if current.spans:
                sections.append(current)
            while stack and stack[-1].level >= block.level:
                stack.pop()
            stack.append(block)
            current = _Section(path=tuple(b.text for b in stack))
        current.spans.extend(_block_spans(doc.text, block, size))
    if current.spans:
        sections.append(current)
    return sections


def _block_spans(text: str, block: Block, size: int) -> list[tuple[int, int]]:
    """A block as one span, or as sentence spans when it alone exceeds the target size."""
    if block.end - block.start <= size:
        return [(block.start, block.end)]
    body = text[block.start:block.end]
    return [(block.start + s, block.start + e) for s, e in split_sentences(body)]


def _merge_small(sections: list[_Section], min_size: int) -> list[_Section]:
    """Fold a section too small to stand alone (a heading with a line or two) into the next."""
    merged: list[_Section] = []
    pending: _Section | None = None
    for section in sections:
        if pending is not None:
            section = _Section(path=section.path, spans=pending.spans + section.spans)
            pending = None
        if section.size < min_size:
            pending = section
        else:
            merged.append(section)
    if pending is not None:
        if merged:
            merged[-1].spans.extend(pending.spans)
        else:
            merged.append(pending)
    return merged


def _pack(spans: list[tuple[int, int]], size: int, min_size: int) -> list[tuple[int, int]]:
    groups: list[tuple[int, int]] = []
    start = end = None
    for s, e in spans:
        if start is None:
            start, end = s, e
        elif e - start <= size:
            end = e
        else:
            groups.append((start, end))
            start, end = s, e
    if start is not None:
        groups.append((start, end))
    if len(groups) > 1 and groups[-1][1] - groups[-1][0] < min_size and groups[-1][1] - groups[-2][0] <= size * 1.25:
        groups[-2:] = [(groups[-2][0], groups[-1][1])]  # no orphaned tail: a little over size beats a scrap
    return groups


def chunk_document(meta: DocumentMeta, doc: CleanDocument, size: int, min_size: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    heading_spans = [(b.start, b.end) for b in doc.blocks if b.kind == "heading"]
    for section in _merge_small(_sections(doc, size), min_size):
        for start, end in _pack(section.spans, size, min_size):
            text = doc.text[start:end]
            headings = tuple((s - start, e - start) for s, e in heading_spans if start <= s and e <= end)
            index = len(chunks)
            digest = hashlib.sha1(f"{meta.doc_id}\x00{section.path}\x00{text}".encode()).hexdigest()[:12]
            chunks.append(Chunk(chunk_id=f"{meta.doc_id}#{index:04d}-{digest}", meta=meta, text=text,
                                section=" > ".join(section.path), start=start, end=end, index=index,
                                headings=headings))
    return chunks
