"""A document at a glance, for new staff: what it is, where it stands in its matter, its sections,
the sentence that states its purpose, the dates and deadlines it mentions and the abbreviations it
defines, every line quoted from the document. Pure functions over its chunks and the catalog.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .dates import DATE_MENTION
from .matters import Catalog, opening_sentence
from .text import sentences
from .types import Chunk, DocumentMeta

RELATION_LABELS = {"follows": "Følger op på", "replaces": "Erstatter", "answers": "Besvarer"}
_PURPOSE = re.compile(r"\b(formål\w*|har til hensigt|skal sikre|anmodes om|orienteres om|beskriver|anbefal\w*)\b",
                      re.I)
# 'Den Administrative Styregruppe for … (DASSOS)': capitalised words (with small linking words) before
# a parenthesised abbreviation whose letters they could stand for.
_DEFINED = re.compile(r"((?:[A-ZÆØÅ][\w-]*|og|for|i|på|af|den|det|de)(?:\s+(?:[A-ZÆØÅ]?[\w-]+)){0,9})\s*"
                      r"\(([A-ZÆØÅ][A-ZÆØÅ\w-]{1,9})\)")


@dataclass
class Overview:
    meta: DocumentMeta
    chunks: int
    matter: str = ""
    position: tuple[int, int] = (0, 0)  # its place among the matter's documents (1-based), and how many
    relations: list[tuple[str, DocumentMeta]] = field(default_factory=list)  # (follows|replaces|answers, other)
    later: list[DocumentMeta] = field(default_factory=list)  # newer documents that follow it up
    sections: list[str] = field(default_factory=list)
    purpose: str = ""
    dates: list[str] = field(default_factory=list)  # sentences that mention a date or a deadline
    abbreviations: list[tuple[str, str]] = field(default_factory=list)  # (short, full)
    passages: dict[str, str] = field(default_factory=dict)  # a quoted line or section -> the passage it is in

    def place(self) -> list[tuple[str, str]]:
        """(label, value) rows saying where the document stands: its matter, the documents it relates
        to and those that followed it up; for the chat and the CLI alike."""
        rows = [("Sag", f"{self.matter} (dokument {self.position[0]} af {self.position[1]})")] if self.matter else []
        rows += [(RELATION_LABELS[kind], f"{other.title} ({other.date or 'udateret'})") for kind, other in self.relations]
        return rows + [("Fulgt op af", f"{later.title} ({later.date or 'udateret'})") for later in self.later]


def _sentences(chunks: list[Chunk]) -> list[tuple[str, Chunk]]:
    return [(s, c) for c in chunks for s in sentences(c.text)]


def abbreviations(text: str) -> list[tuple[str, str]]:
    """(short form, full name) for each 'Full Name (ABBR)' whose initials could make the abbreviation."""
    found: dict[str, str] = {}
    for full, short in _DEFINED.findall(text):
        words = full.split()
        initials = short.replace("-", "").lower()
        for start in range(len(words)):  # the longest tail of the phrase that starts with its first letter
            candidate = " ".join(words[start:])
            if candidate[:1].lower() == initials[:1] and len(words) - start >= 2:
                found.setdefault(short, candidate)
                break
    return sorted(found.items())


def overview(chunks: list[Chunk], catalog: Catalog) -> Overview:
    """The overview of one document from its chunks in reading order."""
    meta = chunks[0].meta
    result = Overview(meta=meta, chunks=len(chunks), matter=meta.matter)
    if meta.matter:
        steps = catalog.matters().get(meta.matter, [])
        sources = [s.meta.source for s in steps]
        result.position = (sources.index(meta.source) + 1 if meta.source in sources else 0, len(steps))
        result.later = catalog.newer(meta.source)
    for kind in ("follows", "replaces", "answers"):
        result.relations += [(kind, other) for name in getattr(meta, kind) if (other := catalog.meta(name))]
    result.sections = list(dict.fromkeys(c.section for c in chunks if c.section))
    sentences = _sentences(chunks)
    where = {sentence: chunk.text for sentence, chunk in reversed(sentences)}  # the first passage holding it
    result.purpose = next((s for s, _ in sentences if _PURPOSE.search(s) and len(s.split()) >= 8), "") or \
        opening_sentence(chunks)
    result.dates = [s for s in dict.fromkeys(s for s, _ in sentences)
                    if DATE_MENTION.search(s) and len(s.split()) >= 5][:8]
    result.abbreviations = abbreviations(" ".join(c.text.replace("\n", " ") for c in chunks))
    result.passages = {line: where.get(line, "") for line in [result.purpose, *result.dates] if line}
    result.passages.update({section: next(c.text for c in chunks if c.section == section)
                            for section in result.sections})
    return result
