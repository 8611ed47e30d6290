"""Matters: the documents of one case over time, and which one follows up, replaces or answers which.

A sidecar names a document's matter and the documents (by file name) it follows up or renews
(``follows``), replaces or answers. From that, an answer that quotes a document which a later
document of the same matter follows up or replaces says so and cites the newer one, and a matter's
course can be told in date order. Pure functions over the documents' metadata and first chunks.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from .dates import danish_date, deadlines
from .messages import msg
from .types import Answer, Chunk, Citation, DocumentMeta, Hit

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÆØÅ])")


def _key(name: str) -> str:
    """A document named with or without its extension or folder: '001_x.txt' = '001_x'."""
    return PurePosixPath(name.strip()).stem.lower()


@dataclass(frozen=True)
class Step:
    """One document in a matter's course, with the sentence that says what it is (verbatim)."""
    meta: DocumentMeta
    chunk_id: str
    quote: str
    passage: str
    section: str


_FIELD = re.compile(r"^[\w .]{2,20}:\s")  # a letterhead field: 'Dato: …', 'Sagsnr.: …'


def opening_sentence(chunks: list[Chunk]) -> str:
    """The first real sentence of a document (eight words or more, not its title, not a letterhead
    field), verbatim: what the document is, in its own words."""
    title = re.sub(r"\W+", " ", chunks[0].meta.title.lower()).strip() if chunks else ""
    for chunk in chunks:
        for line in chunk.text.splitlines():
            for sentence in _SENTENCE.split(line.strip()):
                plain = sentence.strip()
                if len(plain.split()) >= 8 and not _FIELD.match(plain) and \
                        re.sub(r"\W+", " ", plain.lower()).strip() not in title:
                    return plain
    return chunks[0].text.strip().splitlines()[0] if chunks and chunks[0].text.strip() else ""


class Catalog:
    """The documents of the current generation, by file name, with their matters. ``document`` gives
    a document's chunks in reading order (by doc_id), read only when a step is shown."""

    def __init__(self, firsts: list[Chunk], document: Callable[[str], list[Chunk]]) -> None:
        self.first = {_key(c.meta.source): c for c in firsts}
        self._document = document

    def meta(self, source: str) -> DocumentMeta | None:
        chunk = self.first.get(_key(source))
        return chunk.meta if chunk else None

    def matters(self) -> dict[str, list[Step]]:
        """Each matter's documents in date order (undated last)."""
        found: dict[str, list[Step]] = {}
        for chunk in self.first.values():
            if chunk.meta.matter:
                found.setdefault(chunk.meta.matter, []).append(self.step(chunk.meta.source))
        for steps in found.values():
            steps.sort(key=lambda s: (s.meta.date_num or 99999999, s.meta.source))
        return dict(sorted(found.items()))

    def step(self, source: str) -> Step:
        chunks = self._document(self.first[_key(source)].meta.doc_id)[:3] or [self.first[_key(source)]]
        quote = opening_sentence(chunks)
        chunk = next((c for c in chunks if quote in c.text), chunks[0])
        return Step(meta=chunk.meta, chunk_id=chunk.chunk_id, quote=quote, passage=chunk.text, section=chunk.section)

    def newer(self, source: str) -> list[DocumentMeta]:
        """Later documents of the same matter that follow up or replace this one, directly or through
        another: newest first."""
        meta = self.meta(source)
        if meta is None or not meta.matter:
            return []
        later: list[DocumentMeta] = []
        frontier, seen = {_key(source)}, {_key(source)}
        while frontier:
            successors = {_key(c.meta.source) for c in self.first.values() if c.meta.matter == meta.matter
                          and {_key(n) for n in (*c.meta.follows, *c.meta.replaces)} & frontier} - seen
            seen |= successors
            later += [self.first[k].meta for k in successors if self.first[k].meta.date_num > meta.date_num]
            frontier = successors
        return sorted(later, key=lambda m: (-m.date_num, m.source))


def with_newer_guidance(answer: Answer, catalog: Catalog) -> Answer:
    """The answer with a note for each quoted document that a newer one in its matter follows up or
    replaces, naming the newest (type and date; its title is on the card) and citing the sentence that
    says what it is. The note's
    citation is kept apart (``answer.newer``): it points onwards, it does not support the answer."""
    if answer.abstained or not answer.citations:
        return answer
    cited = {_key(c.source) for c in answer.citations}
    notes: list[str] = []
    for source in dict.fromkeys(c.source for c in answer.citations):
        newer = catalog.newer(source)
        if not newer or _key(newer[0].source) in cited:
            continue
        step = catalog.step(newer[0].source)
        number = len(answer.citations) + len(answer.newer) + 1
        m = step.meta
        answer.newer.append(Citation(number=number, chunk_id=step.chunk_id, source=m.source, title=m.title,
                                     doc_type=m.doc_type, date=m.date, section=step.section, text=step.quote,
                                     passage=step.passage))
        cited.add(_key(m.source))
        notes.append(msg("newer_guidance", answer.language, doc_type=m.doc_type, date=m.date or "udateret")
                     + f" [{number}]")
    if notes:
        answer.text = "\n".join([answer.text, *notes])
    return answer


def with_past_deadlines(answer: Answer, today: dt.date) -> Answer:
    """The answer with a note for each deadline a quote states that lies before ``today``: a 2022
    deadline must not read as this year's. A deadline without a year is dated from its document."""
    if answer.abstained:
        return answer
    past: dict[dt.date, list[int]] = {}
    for citation in answer.citations:
        for deadline in deadlines(citation.text, citation.date):
            if deadline < today and citation.number not in past.setdefault(deadline, []):
                past[deadline].append(citation.number)
    notes = [msg("deadline_past", answer.language, deadline=danish_date(day)) + " " +
             "".join(f"[{n}]" for n in numbers) for day, numbers in sorted(past.items())]
    if notes:
        answer.text = "\n".join([answer.text, *notes])
    return answer


# Phrases that ask how things stand now; not bare 'nu', 'gælder' or 'stadig', which mostly mean
# something else ('Du er nu …', 'Hvilke regler gælder for …', 'giver det stadig mening').
_CURRENT = re.compile(r"\b(nuværende|gældende|seneste|i dag|lige nu|for tiden|gælder( \w+)? stadig|"
                      r"stadig (gælder|gældende|gyldig)|current(ly)?|latest|in force|still (valid|appl(y|ies)))\b",
                      re.I)


def asks_for_current(question: str) -> bool:
    """Whether a question asks how things stand now ('Hvad er den gældende frist?', 'latest')."""
    return bool(_CURRENT.search(question))


def prefer_newest(hits: list[Hit], catalog: Catalog) -> list[Hit]:
    """For a question about now: a passage from a document that a retrieved later document of its
    matter follows up or replaces moves below the later document's first passage (newer before
    older there; the order is otherwise kept)."""
    position = {_key(h.chunk.meta.source): i for i, h in reversed(list(enumerate(hits)))}
    rank = []
    for i, hit in enumerate(hits):
        later = [position[_key(m.source)] for m in catalog.newer(hit.chunk.meta.source) if _key(m.source) in position]
        moved = bool(later) and max(later) > i
        # Passages moved behind the same newer one keep the newer of them first.
        rank.append((max(later) + 0.5 if moved else i, -hit.chunk.meta.date_num if moved else 0, i))
    return [hits[i] for *_, i in sorted(rank)]
