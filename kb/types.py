"""The small typed objects passed between pipeline stages."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import BadDateError


@dataclass(frozen=True)
class DocumentMeta:
    doc_id: str
    source: str
    title: str
    doc_type: str = "ukendt"
    issuer: str = ""
    date: str = ""  # ISO: YYYY, YYYY-MM or YYYY-MM-DD
    case_number: str = ""
    guessed: bool = False
    # The matter (sag) the document belongs to, and the documents (by file name) it follows up,
    # replaces or answers: from its sidecar, so answers can say when newer guidance exists.
    matter: str = ""
    follows: tuple[str, ...] = ()
    replaces: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()

    @property
    def date_num(self) -> int:
        """The date as YYYYMMDD (missing parts 00) so stores can filter ranges numerically."""
        parts = (self.date.split("-") + ["00", "00"])[:3] if self.date else ["0", "0", "0"]
        try:
            return int(parts[0]) * 10000 + int(parts[1]) * 100 + int(parts[2])
        except ValueError:
            return 0


@dataclass(frozen=True)
class RawDocument:
    path: Path
    text: str
    fmt: str  # txt, md, pdf, docx, html


BlockKind = Literal["heading", "paragraph", "list_item", "table_row"]


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str
    start: int
    end: int
    level: int = 0  # heading depth; 0 for other blocks


@dataclass(frozen=True)
class CleanDocument:
    text: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    meta: DocumentMeta
    text: str
    section: str
    start: int
    end: int
    index: int
    # (start, end) of heading lines within text: headings are context, never quoted as an answer.
    headings: tuple[tuple[int, int], ...] = ()

    @property
    def embed_text(self) -> str:
        """What is embedded and indexed: the passage with its document and section as context."""
        # Measured: adding type, date and case number to this header lowered MRR@10 on the dev set
        # (0.77 -> 0.68), so only the title and section path give context.
        header = " > ".join(p for p in (self.meta.title, self.section) if p)
        return f"{header}\n{self.text}" if header else self.text

    def store_metadata(self) -> dict[str, str | int]:
        m = self.meta
        return {
            "doc_id": m.doc_id, "source": m.source, "title": m.title, "doc_type": m.doc_type,
            "issuer": m.issuer, "date": m.date, "date_num": m.date_num, "case_number": m.case_number,
            "section": self.section, "start": self.start, "end": self.end, "index": self.index,
            "headings": json.dumps(self.headings),  # Chroma metadata holds scalars only
            "matter": m.matter, "follows": "|".join(m.follows), "replaces": "|".join(m.replaces),
            "answers": "|".join(m.answers),
        }

    @classmethod
    def from_store(cls, chunk_id: str, text: str, md: dict) -> "Chunk":
        meta = DocumentMeta(
            doc_id=str(md.get("doc_id", "")), source=str(md.get("source", "")),
            title=str(md.get("title", "")), doc_type=str(md.get("doc_type", "")),
            issuer=str(md.get("issuer", "")), date=str(md.get("date", "")),
            case_number=str(md.get("case_number", "")), matter=str(md.get("matter") or ""),
            **{key: tuple(filter(None, str(md.get(key) or "").split("|"))) for key in ("follows", "replaces", "answers")},
        )
        headings = tuple(tuple(h) for h in json.loads(md.get("headings") or "[]"))
        return cls(chunk_id=chunk_id, meta=meta, text=text, section=str(md.get("section", "")),
                   start=int(md.get("start", 0)), end=int(md.get("end", 0)), index=int(md.get("index", 0)),
                   headings=headings)


@dataclass(frozen=True)
class SearchFilter:
    doc_types: tuple[str, ...] = ()
    date_from: str = ""  # ISO prefix, inclusive
    date_to: str = ""
    # Issuers as the documents name them; the service widens a chosen organisation to its former
    # names (KB_ISSUER_ALIASES) before searching.
    issuers: tuple[str, ...] = ()

    @classmethod
    def from_user(cls, doc_types: list[str] | tuple[str, ...] | None, date_from: str | None,
                  date_to: str | None, issuers: list[str] | tuple[str, ...] | None = None) -> "SearchFilter":
        """Filter inputs as typed (a year, a month, a date, Danish or ISO); raises BadDateError."""
        from .dates import parse_user_date

        bounds = []
        for value in ((date_from or "").strip(), (date_to or "").strip()):
            iso = parse_user_date(value) if value else ""
            if iso is None:
                raise BadDateError(value)
            bounds.append(iso)
        return cls(doc_types=tuple(doc_types or ()), date_from=bounds[0], date_to=bounds[1],
                   issuers=tuple(issuers or ()))

    def is_empty(self) -> bool:
        return not (self.doc_types or self.date_from or self.date_to or self.issuers)

    def matches(self, meta: DocumentMeta) -> bool:
        if self.doc_types and meta.doc_type not in self.doc_types:
            return False
        if self.issuers and meta.issuer not in self.issuers:
            return False
        if self.date_from and meta.date_num < date_bound(self.date_from, low=True):
            return False
        if self.date_to and meta.date_num > date_bound(self.date_to, low=False):
            return False
        return True


def date_bound(iso: str, *, low: bool) -> int:
    """ISO prefix -> YYYYMMDD bound; '2024' is 20240000..20241299 so partial dates fall inside."""
    parts = iso.split("-")
    year = int(parts[0])
    month = int(parts[1]) if len(parts) > 1 else (0 if low else 12)
    day = int(parts[2]) if len(parts) > 2 else (0 if low else 99)
    return year * 10000 + month * 100 + day


@dataclass(frozen=True)
class Query:
    """A question made ready for retrieval: ``text`` is what is searched (the question, joined with
    the earlier turn's topic for a follow-up, spelling repaired); ``focus`` is the current question
    alone; ``intent`` the kind of answer it asks for; ``context`` the chunk ids the previous answer
    cited when this is a follow-up."""

    question: str
    text: str
    focus: str
    language: str
    vector: tuple[float, ...]
    intent: str = "what"
    follow_up: bool = False
    context: tuple[str, ...] = ()


@dataclass
class Hit:
    chunk: Chunk
    score: float
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Citation:
    number: int
    chunk_id: str
    source: str
    title: str
    doc_type: str
    date: str
    section: str
    text: str  # the exact sentence(s) the answer quotes
    passage: str  # the whole chunk, for showing the quote in context
    fact: str = ""  # the exact span of ``text`` that holds the asked-for fact, shown first and highlighted

    def record(self) -> dict:
        record = {"source": self.source, "title": self.title, "date": self.date,
                  "section": self.section, "text": self.text, "doc_type": self.doc_type,
                  "chunk_id": self.chunk_id, "number": self.number}
        if self.fact:
            record["fact"] = self.fact
        return record


@dataclass(frozen=True)
class Turn:
    """One answered turn of a conversation, as much as a later follow-up needs: no personal data."""

    question: str
    searched: str  # what was searched for it: the question with the topic it referred to
    cited: tuple[str, ...] = ()  # chunk ids the answer quoted


@dataclass
class Generation:
    """How a model-written answer came about: the prompt, the model, what validation found and what
    was shown. ``status``: ok, repaired (sentences dropped), fallback (the quoted answer, validation
    failed), unavailable (the endpoint failed: the quoted answer), abstained (the model or the check
    found no answer), not_asked (the check abstained first)."""

    prompt_id: str
    model: str
    status: str
    problems: list[dict] = field(default_factory=list)
    dropped: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    error: str = ""  # the kind of endpoint failure: timeout, rate_limit, server_error, unreachable, malformed
    draft: str = ""  # what the model wrote, before validation

    def record(self) -> dict:
        return {"prompt_id": self.prompt_id, "model": self.model, "status": self.status,
                "validation_ok": self.status in ("ok", "abstained") and not self.problems,
                "problems": self.problems, "dropped": self.dropped, "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out, "error": self.error, "draft": self.draft}


@dataclass
class Answer:
    question: str
    text: str
    abstained: bool
    citations: list[Citation]
    hits: list[Hit]
    language: str = "da"
    confidence: float = 0.0
    error: str = ""  # set when the question itself was rejected (empty, too long)
    retrieval_query: str = ""
    signals: dict[str, float] = field(default_factory=dict)  # what the confidence was made of
    intent: str = ""
    follow_up: bool = False
    abstain_reason: str = ""  # why the check refused a candidate answer (for evals, never shown as is)
    turn: Turn | None = None  # this exchange as conversation state for the next question
    generation: Generation | None = None  # set when a chat model was configured
    newer: list[Citation] = field(default_factory=list)  # newer documents of a quoted one's matter (kb.matters)
