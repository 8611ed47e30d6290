"""Quotable units of a chunk: the sentences, list items and table rows an answer may quote.

Shared by ingest (which embeds every unit ahead, so answering never embeds at question time) and the
answerer (which scores them), so the two always agree on what a unit is.
"""
from __future__ import annotations

import re

from .intent import field_of, is_placeholder_only
from .text import split_sentences, words
from .types import Chunk

MIN_UNIT_CHARS = 12
SHORT_UNIT_CHARS = 40


def units_of(chunk: Chunk) -> list[tuple[int, int]]:
    """Quotable units of a chunk: sentences, list items and table rows. A heading is never quoted
    alone, but a very short block under it is quoted with it ('Lovgrundlag' + 'Ingen.')."""
    text = chunk.text
    headings = set(chunk.headings)
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]
    units: list[tuple[int, int]] = []
    skip = False
    for i, (start, end) in enumerate(lines):
        if skip:
            skip = False
            continue
        if _repeats_title(text[start:end], chunk.meta.title):  # the title with the year under it is no answer
            continue
        if (start, end) in headings:
            nxt = lines[i + 1] if i + 1 < len(lines) else None
            if nxt is not None and nxt not in headings and nxt[1] - nxt[0] < SHORT_UNIT_CHARS and \
                    field_of(text[nxt[0]:nxt[1]]) is None:
                units.append((start, lines[i + 1][1]))
                skip = True
            continue
        line = text[start:end]
        units.extend((start + s, start + e) for s, e in split_sentences(line) if e - s >= MIN_UNIT_CHARS)
    return units


def _is_link(text: str) -> bool:
    """A footnote that is only a web address ('¹ https://…') is a reference, never an answer."""
    rest = re.sub(r"(?:https?://|www\.)\S+", " ", text)
    return rest != text and len(re.findall(r"[^\W\d_]", rest)) < 3


def _repeats_title(line: str, title: str) -> bool:
    """A line that repeats (the start of) the document's title is a heading, whatever its markup or
    punctuation ('Afrapportering: …' as title, 'Afrapportering …' as the first line)."""
    said, named = words(line), words(title)
    shorter = min(len(said), len(named))
    return len(" ".join(said)) >= 15 and shorter >= 2 and said[:shorter] == named[:shorter]


def quotable_units(chunk: Chunk) -> list[tuple[int, int]]:
    """The units an answer may quote: not a form's blanks, not a bare web address."""
    return [(s, e) for s, e in units_of(chunk)
            if not is_placeholder_only(chunk.text[s:e]) and not _is_link(chunk.text[s:e])]
