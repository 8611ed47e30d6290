"""Matters: the documents of one case over time, and which one follows up, replaces or answers which.

A sidecar names a document's matter and the documents (by file name) it follows up or renews
(``follows``), replaces or answers. From that, an answer that quotes a document which a later
document of the same matter follows up or replaces says so and cites the newer one, and a matter's
course can be told in date order. Pure functions over the documents' metadata and first chunks.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .dates import danish_date, deadlines
from .messages import msg
from .text import sentences
from .types import Answer, Chunk, Citation, DocumentMeta, Hit, Query


def _key(name: str) -> str:
    """A document's path without its extension: 'notater/001_x.txt' = 'notater/001_x'."""
    return str(PurePosixPath(name.strip()).with_suffix("")).lower()


@dataclass(frozen=True)
class Step:
    """One document in a matter's course, with the sentence that says what it is (verbatim) and the
    chunk it is quoted from."""
    chunk: Chunk
    quote: str

    @property
    def meta(self) -> DocumentMeta:
        return self.chunk.meta

    def citation(self, number: int) -> Citation:
        c, m = self.chunk, self.chunk.meta
        return Citation(number=number, chunk_id=c.chunk_id, source=m.source, title=m.title, doc_type=m.doc_type,
                        date=m.date, section=c.section, text=self.quote, passage=c.text)


_FIELD = re.compile(r"^[\w .]{2,20}:\s")  # a letterhead field: 'Dato: …', 'Sagsnr.: …'


def opening_sentence(chunks: list[Chunk]) -> str:
    """The first real sentence of a document (eight words or more, not its title, not a letterhead
    field), verbatim: what the document is, in its own words."""
    title = re.sub(r"\W+", " ", chunks[0].meta.title.lower()).strip() if chunks else ""
    for chunk in chunks:
        for sentence in sentences(chunk.text):
            if len(sentence.split()) >= 8 and not _FIELD.match(sentence) and \
                    re.sub(r"\W+", " ", sentence.lower()).strip() not in title:
                return sentence
    return chunks[0].text.strip().splitlines()[0] if chunks and chunks[0].text.strip() else ""


class Catalog:
    """The documents of the current generation, by file name, with their matters. ``document`` gives
    a document's chunks in reading order (by doc_id), read only when a step is shown."""

    def __init__(self, firsts: list[Chunk], document: Callable[[str], list[Chunk]]) -> None:
        self.first = {_key(c.meta.source): c for c in firsts}
        self._document = document
        stems: dict[str, list[str]] = {}
        for key in self.first:
            stems.setdefault(PurePosixPath(key).name, []).append(key)
        self._unique_stems = {stem: keys[0] for stem, keys in stems.items() if len(keys) == 1}
        self._steps: dict[str, Step] = {}  # read once per generation, not on every answer or page load

    def resolve(self, name: str) -> str:
        """The key of the document a sidecar names: by its path, or by its bare file name when only one
        document in the knowledge base has that name."""
        key = _key(name)
        return key if key in self.first else self._unique_stems.get(PurePosixPath(key).name, key)

    def meta(self, source: str) -> DocumentMeta | None:
        chunk = self.first.get(self.resolve(source))
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
        key = self.resolve(source)
        if key not in self._steps:
            first = self.first[key]
            chunks = self._document(first.meta.doc_id)[:3] or [first]
            quote = opening_sentence(chunks)
            self._steps[key] = Step(chunk=next((c for c in chunks if quote in c.text), chunks[0]), quote=quote)
        return self._steps[key]

    def newer(self, source: str) -> list[DocumentMeta]:
        """Later documents of the same matter that follow up or replace this one, directly or through
        another: newest first."""
        meta = self.meta(source)
        if meta is None or not meta.matter:
            return []
        later: list[DocumentMeta] = []
        start = self.resolve(source)
        frontier, seen = {start}, {start}
        while frontier:
            successors = {_key(c.meta.source) for c in self.first.values() if c.meta.matter == meta.matter
                          and {self.resolve(n) for n in (*c.meta.follows, *c.meta.replaces)} & frontier} - seen
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
        answer.newer.append(step.citation(number))
        cited.add(_key(step.meta.source))
        m = step.meta
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


_COURSE = re.compile(r"\b(tidslinje\w*|overblik over (forløbet|sagen)|sagens (forløb|historik|udvikling)|"
                     r"forløbet i sagen|hvad er (der )?sket|hvordan har sagen udviklet sig|timeline|"
                     r"what has happened|history of the (matter|case))\b", re.I)
_SINCE = re.compile(r"\b(?:siden|since|fra|from)\s+((?:19|20)\d{2})\b", re.I)


_NEWEST = re.compile(r"\b(nyeste|seneste|senest udsendte|most recent|latest|newest)\s+(\w+)", re.I)
_KINDS = {"dokument": "", "materiale": "", "document": "", "guidance": "", "udmelding": "central udmelding",
          "anmodning": "anmodning", "request": "anmodning", "vejledning": "vejledning",
          "afrapportering": "sagsfremstilling", "forløbsbeskrivelse": "forløbsbeskrivelse"}


def newest_answer(query: Query, hits: list[Hit], catalog: Catalog) -> Answer | None:
    """For 'Hvad er det nyeste dokument (den seneste anmodning) i sagen?': the newest document of the
    best passages' matter (of the kind named, if one is), with its opening sentence cited."""
    asked = _NEWEST.search(query.focus)
    if not asked or asked.group(2).lower() not in _KINDS:
        return None
    kind = _KINDS[asked.group(2).lower()]
    matter = next((h.chunk.meta.matter for h in hits[:5] if h.chunk.meta.matter), "")
    steps = [s for s in catalog.matters().get(matter, []) if not kind or s.meta.doc_type == kind]
    if not steps:
        return None
    step = max(steps, key=lambda s: s.meta.date_num)
    m = step.meta
    text = "\n".join([msg("newest_intro", query.language, matter=matter, doc_type=m.doc_type,
                           date=m.date or "udateret", title=m.title), f"{step.quote} [1]"])
    return Answer(question=query.question, text=text, abstained=False, citations=[step.citation(1)],
                  hits=_with_chunks(hits, [step]),
                  language=query.language, confidence=1.0, retrieval_query=query.text, intent="newest",
                  follow_up=query.follow_up)


def _with_chunks(hits: list[Hit], steps: list[Step]) -> list[Hit]:
    """The hits, then the cited chunks retrieval did not return: every citation can be traced to a
    passage in the record."""
    seen = {h.chunk.chunk_id for h in hits}
    return hits + [Hit(chunk=s.chunk, score=0.0) for s in steps if s.chunk.chunk_id not in seen]


def asks_for_course(question: str) -> bool:
    """Whether a question asks for a matter's course ('Giv mig et overblik over forløbet i sagen')."""
    return bool(_COURSE.search(question))


def course_answer(query: Query, hits: list[Hit], catalog: Catalog) -> Answer | None:
    """For a question about a matter's course: the matter of the best passages, its documents in date
    order (from a year on, if the question says 'siden 2019'), one cited verbatim line each."""
    if not asks_for_course(query.focus):
        return None
    matter = next((h.chunk.meta.matter for h in hits[:5] if h.chunk.meta.matter), "")
    if not matter:
        return None
    steps = catalog.matters().get(matter, [])
    if since := _SINCE.search(query.focus):
        steps = [s for s in steps if s.meta.date_num >= int(since.group(1)) * 10000]
    if not steps:
        return None
    lines, citations = [msg("course_intro", query.language, matter=matter)], []
    for number, step in enumerate(steps, start=1):
        m = step.meta
        lines.append(f"{m.date or 'udateret'} – {m.doc_type}: {step.quote} [{number}]")
        citations.append(step.citation(number))
    return Answer(question=query.question, text="\n".join(lines), abstained=False, citations=citations,
                  hits=_with_chunks(hits, steps),
                  language=query.language, confidence=1.0, retrieval_query=query.text, intent="course",
                  follow_up=query.follow_up)


def _stems(text: str) -> set[str]:
    """Words of four letters or more, cut to six: 'central' and 'centrale' are one."""
    return {w[:6] for w in re.findall(r"\w{4,}", text.lower())}


def _names(sentences: list[set[str]], title: str) -> bool:
    """Whether one sentence holds at least 80% of a title's six or more words (a title cited, perhaps
    inflected; a short title is too common to tell)."""
    wanted = _stems(title)
    return len(wanted) >= 6 and any(len(wanted & sentence) >= 0.8 * len(wanted) for sentence in sentences)


def suggest_relations(changed: Iterable[list[Chunk]], catalog: Catalog) -> list[str]:
    """Relations a person should confirm in a sidecar, for changed documents that name none: another
    document with the same case number (the same matter?), or whose title the text cites (does it
    follow up or answer that one?). Printed at ingest, never applied silently. ``changed`` may be a
    generator: one document's chunks are held at a time."""
    suggestions: list[str] = []
    for chunks in changed:
        meta = chunks[0].meta
        if meta.matter or meta.follows or meta.replaces or meta.answers:
            continue
        stems = [_stems(s) for c in chunks for s in sentences(" ".join(c.text.split()))]
        case = re.sub(r"\s+", "", meta.case_number)
        sidecar = f"{Path(meta.source).stem}.meta.yaml"
        for other in catalog.first.values():
            o = other.meta
            if o.source == meta.source:
                continue
            if case and case == re.sub(r"\s+", "", o.case_number):
                suggestions.append(f"{meta.source} og {o.source} har samme sagsnummer ({o.case_number}): samme sag? "
                                   f"Skriv matter: i {sidecar}")
            elif o.date_num < meta.date_num and _names(stems, o.title):
                suggestions.append(f"{meta.source} nævner »{o.title}« ({o.date or 'udateret'}): følger den op på "
                                   f"eller besvarer den? Skriv follows: eller answers: [\"{o.source}\"] og matter: "
                                   f"i {sidecar}")
    return suggestions
