"""Extractive answering: quote the few sentences that answer the question, cite each, or abstain.

Without an LLM nothing is paraphrased: every sentence of an answer is a verbatim quote from a
retrieved chunk, so it cannot state what the documents do not. The stages run in order over one
shared context: units (split hits into sentences) -> score -> confidence -> select -> compose.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .dates import DATE_MENTION
from .embeddings import CachedEmbeddings
from .glossary import english_lookup
from .lexical import LexicalIndex
from .messages import msg
from .text import DANISH_STOPWORDS, ENGLISH_STOPWORDS, split_sentences, stem_tokens, words
from .types import Answer, Chunk, Citation, Hit, Query

MIN_UNIT_CHARS = 12
SHORT_UNIT_CHARS = 40
MAX_ANSWER_CHARS = 900
# e5 cosine similarities between a question and any Danish sentence rarely leave 0.72-0.92;
# this maps that band onto 0..1 so it can be combined with lexical coverage.
DENSE_FLOOR, DENSE_SPAN = 0.75, 0.15


_NUMBER = re.compile(r"\b\d+\b")
_ASKS_DATE = re.compile(r"\b(hvornår|hvilken dato|hvilket år|frist|deadline|when|what date|which year|dato)\b", re.I)
_ASKS_NUMBER = re.compile(r"\b(hvor mange|hvor stor|antal|antallet|how many|how much|number of)\b", re.I)


def expected_answer(question: str) -> re.Pattern | None:
    """The kind of fact a question asks for (a date, a number), so sentences holding one rank higher."""
    if _ASKS_DATE.search(question):
        return DATE_MENTION
    if _ASKS_NUMBER.search(question):
        return _NUMBER
    return None


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
        if (start, end) in headings:
            if i + 1 < len(lines) and lines[i + 1] not in headings and \
                    lines[i + 1][1] - lines[i + 1][0] < SHORT_UNIT_CHARS:
                units.append((start, lines[i + 1][1]))
                skip = True
            continue
        line = text[start:end]
        units.extend((start + s, start + e) for s, e in split_sentences(line) if e - s >= MIN_UNIT_CHARS)
    return units


@dataclass(frozen=True)
class ScoringWeights:
    """How a candidate sentence is scored. The defaults were chosen on the question sets; a change
    moves every answer, so rerun `kb eval` and the gate after one."""

    dense: float = 0.55  # meaning match of the sentence (the rest is term coverage)
    own_terms: float = 0.7  # share of term coverage from the sentence itself, the rest from its chunk
    chunk_context: str = "header"  # "header" (title + section) or "chunk" (the whole passage)
    answer_type: float = 0.1  # bonus when the sentence holds the kind of fact asked for (date, number)
    keep_ratio: float = 0.85  # further sentences are quoted when they score this share of the best
    echo: float = 0.15  # penalty for a sentence that only restates the question
    rank: float = 0.02  # penalty per rank of the chunk the sentence comes from


@dataclass
class _Unit:
    hit_rank: int
    hit: Hit
    start: int
    end: int
    dense: float = 0.0
    lexical: float = 0.0
    score: float = 0.0
    match: float = 0.0  # meaning and term match only, before the selection bonuses

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start:self.end]


@dataclass
class AnswerContext:
    query: Query
    hits: list[Hit]
    query_vector: np.ndarray
    stems: set[str]  # of the searched text (with the earlier turn for a follow-up)
    focus_stems: set[str]  # of the current question alone
    units: list[_Unit] = field(default_factory=list)
    confidence: float = 0.0
    signals: dict[str, float] = field(default_factory=dict)
    selected: list[_Unit] = field(default_factory=list)


class ExtractiveAnswerer:
    def __init__(self, embeddings: CachedEmbeddings, lexical: LexicalIndex, answer_hits: int = 3,
                 max_sentences: int = 4, threshold: float = 0.36,
                 weights: ScoringWeights = ScoringWeights()) -> None:
        self.weights = weights
        self.embeddings, self.lexical = embeddings, lexical
        self.answer_hits, self.max_sentences, self.threshold = answer_hits, max_sentences, threshold

    def answer(self, query: Query, hits: list[Hit]) -> Answer:
        ctx = AnswerContext(query=query, hits=hits, query_vector=np.asarray(query.vector, dtype=np.float32),
                            stems=set(stem_tokens(query.text)), focus_stems=set(stem_tokens(query.focus)))
        for stage in (self._units, self._score, self._confidence, self._select):
            stage(ctx)
        return self._compose(ctx)

    def _units(self, ctx: AnswerContext) -> None:
        for rank, hit in enumerate(ctx.hits[:self.answer_hits]):
            ctx.units.extend(_Unit(rank, hit, s, e) for s, e in units_of(hit.chunk))

    def _coverage(self, query_stems: set[str], text: str | set[str]) -> float:
        """IDF-weighted share of the question's terms found in text (or its stems, when the caller
        already has them); terms unknown to the corpus weigh most, so a question about something
        the documents never mention scores low."""
        if not query_stems:
            return 0.0
        present = text if isinstance(text, set) else set(stem_tokens(text))
        weights = {t: self.lexical.idf(t) for t in query_stems}
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t in present) / total if total else 0.0

    def _score(self, ctx: AnswerContext) -> None:
        if not ctx.units:
            return
        vectors = np.asarray(self.embeddings.embed_documents([u.text for u in ctx.units]), dtype=np.float32)
        dense = vectors @ ctx.query_vector
        stems = ctx.stems | ctx.focus_stems
        wanted = expected_answer(ctx.query.question)
        w = self.weights
        context = {id(h): self._coverage(ctx.stems, h.chunk.embed_text if w.chunk_context == "chunk"
                                         else h.chunk.embed_text.split("\n", 1)[0])
                   for h in ctx.hits[:self.answer_hits]}
        for unit, cos in zip(ctx.units, dense):
            unit.dense = float(np.clip((cos - DENSE_FLOOR) / DENSE_SPAN, 0.0, 1.0))
            own = set(stem_tokens(unit.text))
            # The current question says what is asked now; a follow-up's earlier turn only sets the topic.
            own_text = 0.5 * self._coverage(ctx.focus_stems, own) + 0.5 * self._coverage(ctx.stems, own)
            unit.lexical = w.own_terms * own_text + (1 - w.own_terms) * context[id(unit.hit)]
            boost = w.answer_type if wanted is not None and wanted.search(unit.text) else 0.0
            # A sentence that only restates the question ('Døgnbehandlingsindsats til udsatte gravide')
            # matches it best and answers it least.
            echo = w.echo if len(own - stems) < 3 and len(own & stems) >= 0.6 * len(own) else 0.0
            unit.match = w.dense * unit.dense + (1 - w.dense) * unit.lexical
            unit.score = unit.match + boost - echo - w.rank * unit.hit_rank

    def _confidence(self, ctx: AnswerContext) -> None:
        """How sure we are that the documents answer at all: the best sentence's meaning match, how
        much of the question the best passage covers, less the share of the question's words that
        the corpus never uses (a question about 'ventetid' cannot be answered by documents without it)."""
        if not ctx.units:
            return
        best = max(ctx.units, key=lambda u: u.match)  # selection bonuses say which, not whether
        passage = max(self._coverage(ctx.stems, h.chunk.embed_text) for h in ctx.hits[:self.answer_hits])
        unknown = self.unknown_share(ctx.query.focus)
        ctx.signals = {"best_dense": best.dense, "passage_coverage": passage, "unknown_words": unknown}
        ctx.confidence = 0.5 * best.dense + 0.5 * passage - 0.5 * unknown

    def unknown_share(self, question: str) -> float:
        """Share of the question's content words that neither the corpus nor the glossary knows."""
        content = [w for w in words(question) if len(w) >= 3 and not w.isdigit() and
                   w not in DANISH_STOPWORDS and w not in ENGLISH_STOPWORDS]
        unknown = [w for w in content if english_lookup(w) is None and not self.lexical.knows(w)]
        return len(unknown) / len(content) if content else 1.0

    def _select(self, ctx: AnswerContext) -> None:
        if ctx.confidence < self.threshold or not ctx.units:
            return
        ranked = sorted(ctx.units, key=lambda u: -u.score)
        best = _with_next_sentence(ctx.units, ranked[0])
        chosen = [best]
        for unit in ranked[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if unit.score < self.weights.keep_ratio * best.score or _overlaps(unit, chosen):
                continue
            if sum(len(u.text) for u in chosen) + len(unit.text) > MAX_ANSWER_CHARS:
                continue
            chosen.append(unit)
        chosen = _with_list_items(ctx.units, chosen, self.max_sentences)
        ctx.selected = sorted(chosen, key=lambda u: (u.hit_rank, u.start))

    def _compose(self, ctx: AnswerContext) -> Answer:
        q = ctx.query
        if not ctx.selected:
            return Answer(question=q.question, text=msg("abstain", q.language), abstained=True, citations=[],
                          hits=ctx.hits, language=q.language, confidence=ctx.confidence, retrieval_query=q.text,
                          signals=ctx.signals)
        citations: list[Citation] = []
        lines: list[str] = []
        for number, unit in enumerate(ctx.selected, start=1):
            chunk = unit.hit.chunk
            citations.append(Citation(number=number, chunk_id=chunk.chunk_id, source=chunk.meta.source,
                                      title=chunk.meta.title, doc_type=chunk.meta.doc_type, date=chunk.meta.date,
                                      section=chunk.section, text=unit.text, passage=chunk.text))
            lines.append(f"{unit.text} [{number}]")
        intro = msg("answer_intro", q.language)
        text = "\n".join(([intro] if intro else []) + lines)
        return Answer(question=q.question, text=text, abstained=False, citations=citations, hits=ctx.hits,
                      language=q.language, confidence=ctx.confidence, retrieval_query=q.text, signals=ctx.signals)


def _overlaps(unit: _Unit, chosen: list[_Unit]) -> bool:
    """Same text already quoted (chunks of different documents often repeat a sentence)."""
    words = set(unit.text.lower().split())
    for other in chosen:
        other_words = set(other.text.lower().split())
        if len(words & other_words) / max(min(len(words), len(other_words)), 1) > 0.8:
            return True
    return False


def _with_list_items(units: list[_Unit], chosen: list[_Unit], limit: int) -> list[_Unit]:
    """A chosen sentence that introduces a list (ends with ':') brings the list items after it."""
    out = list(chosen)
    for unit in chosen:
        if not unit.text.rstrip().endswith(":"):
            continue
        following = sorted((u for u in units if u.hit is unit.hit and u.start > unit.start), key=lambda u: u.start)
        for item in following:
            if len(out) >= limit + 2:
                break
            if not _overlaps(item, out):
                out.append(item)
    return out


def _with_next_sentence(units: list[_Unit], unit: _Unit, max_chars: int = 450) -> _Unit:
    """The best sentence together with the next one of its paragraph: the sentence that matches a
    question best often introduces the answer ('… de centrale aktører …. De centrale aktører er …')."""
    text = unit.hit.chunk.text
    nxt = min((u for u in units if u.hit is unit.hit and u.start >= unit.end), key=lambda u: u.start, default=None)
    if nxt is None or "\n" in text[unit.end:nxt.start] or nxt.end - unit.start > max_chars:
        return unit
    return _Unit(unit.hit_rank, unit.hit, unit.start, nxt.end, unit.dense, unit.lexical, unit.score, unit.match)
