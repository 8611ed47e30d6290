"""Extractive answering: quote the few sentences that answer the question, cite each, or abstain.

Without an LLM nothing is paraphrased: every sentence of an answer is a verbatim quote from a
retrieved chunk, so it cannot state what the documents do not. The stages run in order over one
shared context: units (split hits into sentences) -> score -> confidence -> select (with the answer
check) -> compose.
A one-fact question ('Hvornår …', 'Hvor mange …') is answered with the fact first, as an exact span
of the quoted sentence; a candidate without the asked-for kind of fact, or from a passage that does
not cover what the question is specifically about, is not an answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .config import AnswerSettings
from .conversation import topic_words
from .embeddings import CachedEmbeddings
from .glossary import english_lookup, issuer_names
from .intent import (
    FACT_INTENTS,
    KINDED_INTENTS,
    LIST_NUMBER,
    asked_noun,
    fact_span,
    field_asked,
    field_of,
    holds,
    named_phrases,
    names_a_kind,
)
from .lexical import LexicalIndex
from .messages import msg
from .text import fold, stem_tokens, words
from .types import Answer, Chunk, Citation, Hit, Query
from .units import quotable_units

MAX_ANSWER_CHARS = 900
# e5 cosine similarities between a question and any Danish sentence rarely leave 0.72-0.92;
# this maps that band onto 0..1 so it can be combined with lexical coverage.
DENSE_FLOOR, DENSE_SPAN = 0.75, 0.15


@dataclass(frozen=True)
class ScoringWeights:
    """How a candidate sentence is scored. The defaults were chosen on the question sets; a change
    moves every answer, so rerun `kb eval` and the gate after one."""

    dense: float = 0.55  # meaning match of the sentence (the rest is term coverage)
    own_terms: float = 0.7  # share of term coverage from the sentence itself, the rest from its chunk
    chunk_context: str = "header"  # "header" (title + section) or "chunk" (the whole passage)
    answer_type: float = 0.1  # bonus when the sentence holds the kind of answer asked for (a reason, a body)
    fact_type: float = 0.2  # the same for one-fact questions (a date, a number, a case number)
    field: float = 0.3  # penalty for a letterhead field ('Dato: …') the question does not ask about
    context: float = 0.05  # bonus for a passage the previous answer cited, in a follow-up
    keep_ratio: float = 0.85  # further sentences are quoted when they score this share of the best
    echo: float = 0.15  # penalty for a sentence that only restates the question
    # Penalty per rank of the chunk the sentence comes from. With z-score fusion the top chunk is more
    # often the right one: on the dev sets 0 / 0.02 / 0.05 / 0.08 / 0.12 gave fact accuracy 0.887 / 0.873 /
    # 0.873 / 0.887 / 0.859 and citation precision 0.581 / 0.631 / 0.673 / 0.724 / 0.739.
    rank: float = 0.08
    # Share of the question's own topic words (IDF-weighted) the answer's passage must cover. Measured on
    # the dev sets, answerable questions reach down to 0.13 (paraphrases share few words), so this
    # only refuses passages that share nearly nothing; 'asked thing' and 'year' do the finer work.
    min_focus_coverage: float = 0.05


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
    kind: float = 0.0  # how clearly it holds the kind of answer asked for (1, 0.5 or 0)

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
    abstain_reason: str = ""


class ExtractiveAnswerer:
    def __init__(self, embeddings: CachedEmbeddings, lexical: LexicalIndex, settings: AnswerSettings,
                 weights: ScoringWeights = ScoringWeights(), renamed: list[tuple[str, str]] | None = None) -> None:
        self.weights = weights
        self.renamed = renamed or []  # (old, new) organisation names: a document is by both
        self.embeddings, self.lexical = embeddings, lexical
        self.answer_hits, self.max_sentences = settings.answer_hits, settings.max_answer_sentences
        self.threshold = settings.abstain_threshold

    def answer(self, query: Query, hits: list[Hit]) -> Answer:
        ctx = AnswerContext(query=query, hits=hits, query_vector=np.asarray(query.vector, dtype=np.float32),
                            stems=set(stem_tokens(query.text)), focus_stems=set(stem_tokens(query.focus)))
        for stage in (self._units, self._score, self._confidence, self._select):
            stage(ctx)
        return self._compose(ctx)

    def _answer_hits(self, ctx: AnswerContext) -> list[Hit]:
        """The chunks whose sentences may be quoted: the top few, plus in a follow-up the passages
        the previous answer cited when retrieval found them at all."""
        # When the kind of answer is recognisable (a date, a reason, a body), the sentence holding it
        # may sit a little further down (a letterhead 'Dato:' line, the 'hvorfor' sentence after the intro).
        top = ctx.hits[:self.answer_hits + (2 if ctx.query.intent in KINDED_INTENTS else 0)]
        cited = [h for h in ctx.hits[self.answer_hits:] if h.chunk.chunk_id in ctx.query.context]
        return top + cited

    def _units(self, ctx: AnswerContext) -> None:
        for rank, hit in enumerate(self._answer_hits(ctx)):
            ctx.units.extend(_Unit(rank, hit, s, e) for s, e in quotable_units(hit.chunk))

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
        vectors = self.embeddings.embed_array([u.text for u in ctx.units])
        dense = vectors @ ctx.query_vector
        stems = ctx.stems | ctx.focus_stems
        q = ctx.query
        w = self.weights
        bonus = w.fact_type if q.intent in FACT_INTENTS | {"decision"} else w.answer_type
        context = {id(h): self._coverage(ctx.stems, h.chunk.embed_text if w.chunk_context == "chunk"
                                         else h.chunk.embed_text.split("\n", 1)[0])
                   for h in self._answer_hits(ctx)}
        for unit, cos in zip(ctx.units, dense, strict=True):
            unit.dense = float(np.clip((cos - DENSE_FLOOR) / DENSE_SPAN, 0.0, 1.0))
            own = set(stem_tokens(unit.text))
            # The current question says what is asked now; a follow-up's earlier turn only sets the topic.
            own_text = 0.5 * self._coverage(ctx.focus_stems, own) + 0.5 * self._coverage(ctx.stems, own)
            unit.lexical = w.own_terms * own_text + (1 - w.own_terms) * context[id(unit.hit)]
            unit.kind = holds(q.intent, unit.text, q.focus)
            # A letterhead field ('Dato: …', 'Enhed: …') answers questions about the document itself only.
            fld = field_of(unit.text)
            off_field = 0.0 if fld is None else \
                -w.field if field_asked(fld[0], q.focus) and _names_document(q.focus, unit.hit.chunk) else w.field
            cited_before = w.context if unit.hit.chunk.chunk_id in q.context else 0.0
            # A sentence that only restates the question ('Døgnbehandlingsindsats til udsatte gravide')
            # matches it best and answers it least.
            echo = w.echo if len(own - stems) < 3 and len(own & stems) >= 0.6 * len(own) else 0.0
            unit.match = w.dense * unit.dense + (1 - w.dense) * unit.lexical
            unit.score = unit.match + bonus * unit.kind + cited_before - off_field - echo - w.rank * unit.hit_rank

    def _confidence(self, ctx: AnswerContext) -> None:
        """How sure we are that the documents answer at all: the best sentence's meaning match, how
        much of the question the best passage covers, less the share of the question's words that
        the corpus never uses (a question about 'ventetid' cannot be answered by documents without it)."""
        if not ctx.units:
            return
        best = max(ctx.units, key=lambda u: u.match)  # selection bonuses say which, not whether
        passage = max(self._coverage(ctx.stems, h.chunk.embed_text) for h in self._answer_hits(ctx))
        # A follow-up that names nothing of its own ('Hvorfor?') is judged by what it refers to.
        q = ctx.query
        unknown = self.unknown_share(q.focus, q.text if q.follow_up else q.focus)
        ctx.signals = {"best_dense": best.dense, "passage_coverage": passage, "unknown_words": unknown}
        ctx.confidence = 0.5 * best.dense + 0.5 * passage - 0.5 * unknown

    def unknown_share(self, question: str, resolved: str | None = None) -> float:
        """Share of the question's topic words (not the words that ask 'when', 'why' …) that neither
        the corpus nor the glossary knows; for a follow-up, out of the topic words it resolved to."""
        def content(text: str) -> list[str]:
            return [w for w in topic_words(text) if len(w) >= 3 and not w.isdigit()]

        unknown = [w for w in content(question) if english_lookup(w) is None and not self.lexical.knows(w)]
        pool = content(resolved if resolved is not None else question)
        return min(1.0, len(unknown) / len(pool)) if pool else 0.0

    def _select(self, ctx: AnswerContext) -> None:
        if not ctx.units:
            return
        if ctx.confidence < self.threshold:
            ctx.abstain_reason = "low_confidence"
            return
        ranked = sorted(ctx.units, key=lambda u: -u.score)
        one_fact = ctx.query.intent in FACT_INTENTS
        if one_fact:  # only a sentence holding the fact can answer; the check abstains without one
            clearest = max(u.kind for u in ranked)
            ranked = [u for u in ranked if u.kind >= clearest > 0]
            if not ranked:
                ctx.abstain_reason = "no_fact"
                return
        # The documents must say what is asked, not something near it: only sentences from a passage
        # that passes the check are quoted.
        verdicts: dict[str, str] = {}
        for unit in ranked:
            cid = unit.hit.chunk.chunk_id
            if cid not in verdicts:
                verdicts[cid] = self._refusal(ctx, unit.hit.chunk)
        passing = [u for u in ranked if not verdicts[u.hit.chunk.chunk_id]]
        if not passing:
            ctx.abstain_reason = verdicts[ranked[0].hit.chunk.chunk_id]
            return
        ranked = passing
        # The sentence that matches a question best often only introduces the answer; a sentence
        # that already holds the asked-for fact is quoted alone.
        best = ranked[0] if one_fact else _with_next_sentence(ctx.units, ranked[0])
        chosen = [best]
        limit = 2 if one_fact else self.max_sentences
        for unit in ranked[1:]:
            if len(chosen) >= limit:
                break
            if unit.score < self.weights.keep_ratio * best.score or _overlaps(unit, chosen):
                continue
            if sum(len(u.text) for u in chosen) + len(unit.text) > MAX_ANSWER_CHARS:
                continue
            chosen.append(unit)
        chosen = _with_list_items(chosen, self._list_items(ctx), self.max_sentences)
        ctx.selected = [best] + sorted(chosen[1:], key=_reading_order)

    def _list_items(self, ctx: AnswerContext) -> Callable[[_Unit], list[_Unit]]:
        """The units after a sentence that introduces a list: in its own passage and, while the list
        runs to the end of it, the items that open the document's next passage (a chunk boundary
        may fall anywhere in a list, even right after the introduction)."""
        def items(intro: _Unit) -> list[_Unit]:
            after = sorted((u for u in ctx.units if u.hit is intro.hit and u.start > intro.start), key=lambda u: u.start)
            following = self.lexical.at(intro.hit.chunk.meta.doc_id, intro.hit.chunk.index + 1)
            if following is None or not all(_is_item(u) for u in after if _starts_line(u)):
                return after
            hit = Hit(chunk=following, score=0.0)
            opening = [_Unit(intro.hit_rank, hit, s, e) for s, e in quotable_units(following)]
            cut = next((i for i, u in enumerate(opening) if _starts_line(u) and not _is_item(u)), len(opening))
            return after + opening[:cut]
        return items

    def _refusal(self, ctx: AnswerContext, chunk: Chunk) -> str:
        """Why this passage cannot answer the question, or '' when it can: it has to mention the
        thing asked for ('hvilken postadresse', 'hvem er formand'), a year the question names, and
        enough of the question's own topic (IDF-weighted), so a question about an e-mail address,
        sanctions or 2018 figures is not answered with the deadline sentence."""
        q = ctx.query
        passage = _Passage(chunk, self.renamed)
        # A follow-up is judged by what it resolved to ('Og hvem skal den godkendes af?' + the earlier turn).
        topic = set(stem_tokens(" ".join(topic_words(q.text if q.follow_up else q.focus))))
        known = {t for t in topic if t in self.lexical.doc_freq}
        weights = {t: self.lexical.idf(t) for t in known}
        covered = sum(wt for t, wt in weights.items() if passage.covers(t)) / sum(weights.values()) if weights else 1.0
        ctx.signals.setdefault("focus_coverage", covered)
        noun = asked_noun(q.focus)
        noun = "" if names_a_kind(noun) else noun
        names = named_phrases(q.focus) if q.language == "da" else []
        # A follow-up that names no year of its own keeps the one its conversation is about.
        years = re.findall(r"\b(?:19|20)\d{2}\b", q.focus) or \
            (re.findall(r"\b(?:19|20)\d{2}\b", q.text) if q.follow_up else [])
        if noun and not passage.covers(stem_tokens(noun)[0] if stem_tokens(noun) else noun):
            return "asked_thing_not_mentioned"
        if any(not passage.names(n) for n in names):
            return "name_not_mentioned"
        if years and not any(passage.covers(y) for y in years):  # 'fra 2019 til 2024' needs one of them
            return "year_not_mentioned"
        if covered < self.weights.min_focus_coverage:
            return "topic_not_covered"
        return ""

    def _compose(self, ctx: AnswerContext) -> Answer:
        q = ctx.query
        # A list continued into the next passage cites a chunk retrieval did not return: it joins the
        # hits (after the ranked ones), so every citation can be traced to a passage in the record.
        seen = {h.chunk.chunk_id for h in ctx.hits}
        extra = list({u.hit.chunk.chunk_id: u.hit for u in ctx.selected if u.hit.chunk.chunk_id not in seen}.values())
        common = dict(question=q.question, hits=ctx.hits + extra, language=q.language, confidence=ctx.confidence,
                      retrieval_query=q.text, signals=ctx.signals, intent=q.intent, follow_up=q.follow_up)
        if not ctx.selected:
            return Answer(text=msg("abstain", q.language), abstained=True, citations=[],
                          abstain_reason=ctx.abstain_reason or "no_passage", **common)
        citations: list[Citation] = []
        lines: list[str] = []
        best = ctx.selected[0]
        for number, unit in enumerate(_joined(sorted(ctx.selected, key=_reading_order)), start=1):
            chunk = unit.hit.chunk
            holds_best = chunk.chunk_id == best.hit.chunk.chunk_id and unit.start <= best.start < unit.end
            span = fact_span(q.intent, best.text, q.focus) if holds_best else None
            offset = best.start - unit.start
            fact = unit.text[offset + span.start:offset + span.end] if span else ""
            citations.append(Citation(number=number, chunk_id=chunk.chunk_id, source=chunk.meta.source,
                                      title=chunk.meta.title, doc_type=chunk.meta.doc_type, date=chunk.meta.date,
                                      section=chunk.section, text=unit.text, passage=chunk.text, fact=fact))
            lines.append(f"{unit.text} [{number}]")
        # The asked-for fact first ('**31. maj 2025** [1]'), then the quotes it comes from.
        short = [f"**{c.fact}** [{c.number}]" for c in citations if c.fact]
        intro = msg("answer_intro", q.language)
        text = "\n".join(short + ([intro] if intro else []) + lines)
        return Answer(text=text, abstained=False, citations=citations, **common)


class _Passage:
    """A chunk with its document's facts (title, type, date, issuer under each of its names), for
    asking whether it mentions a term: as a stem, or as part of a Danish compound ('tilbud' in
    'døgnbehandlingstilbud')."""

    def __init__(self, chunk: Chunk, renamed: list[tuple[str, str]]) -> None:
        m = chunk.meta
        text = " ".join((chunk.embed_text, m.doc_type, m.date, m.date[:4], issuer_names(m.issuer, renamed)))
        self.stems = set(stem_tokens(text))
        self.words = {fold(w) for w in words(text)}
        self.folded = " ".join(fold(w) for w in words(" ".join((text, m.title))))

    def names(self, phrase: str) -> bool:
        """Whether the passage names this multi-word name, word for word."""
        return f" {' '.join(fold(w) for w in words(phrase))} " in f" {self.folded} "

    def covers(self, term: str) -> bool:
        term = fold(term.lower())
        if term in self.stems or term in self.words:
            return True
        return len(term) >= 4 and any(w.endswith(term) or (len(term) >= 5 and w.startswith(term))
                                      for w in self.words)


def _names_document(question: str, chunk: Chunk) -> bool:
    """Whether the question refers to this chunk's document (its type, or most of its title)."""
    asked = set(stem_tokens(question))
    kind = set(stem_tokens(chunk.meta.doc_type))
    title = set(stem_tokens(chunk.meta.title))
    return bool(kind and kind <= asked) or (bool(title) and len(title & asked) >= 0.5 * min(len(title), 6))


def _overlaps(unit: _Unit, chosen: list[_Unit]) -> bool:
    """Same text already quoted (chunks of different documents often repeat a sentence)."""
    words = set(unit.text.lower().split())
    for other in chosen:
        other_words = set(other.text.lower().split())
        if len(words & other_words) / max(min(len(words), len(other_words)), 1) > 0.8:
            return True
    return False


_ITEM = re.compile(rf"\s*(?:[-•*–]\s|{LIST_NUMBER.pattern}|\(?[a-zæøå]\)\s)")


def _starts_line(unit: _Unit) -> bool:
    before = unit.hit.chunk.text[:unit.start]
    return not before.strip(" \t") or before.rstrip(" \t").endswith("\n")


def _is_item(unit: _Unit) -> bool:
    """A list item: '- …', '1) …', '2. …', '2.1 …', 'a) …'."""
    return bool(_ITEM.match(unit.text))


def _reading_order(unit: _Unit) -> tuple[int, int, int]:
    return unit.hit_rank, unit.hit.chunk.index, unit.start


def _joined(units: list[_Unit]) -> list[_Unit]:
    """Sentences that follow each other on one line of a passage are quoted as one span under one
    citation, not as '… [2] Herunder … [3]'."""
    out: list[_Unit] = []
    for unit in units:
        prev = out[-1] if out else None
        if prev is not None and prev.hit.chunk.chunk_id == unit.hit.chunk.chunk_id and unit.start >= prev.end \
                and re.fullmatch(r"[ \t]*", prev.hit.chunk.text[prev.end:unit.start]):
            out[-1] = _Unit(prev.hit_rank, prev.hit, prev.start, unit.end)
        else:
            out.append(unit)
    return out


def _with_list_items(chosen: list[_Unit], items: Callable[[_Unit], list[_Unit]], limit: int) -> list[_Unit]:
    """A chosen sentence that introduces a list (ends with ':') brings the list items after it."""
    out = list(chosen)
    for unit in chosen:
        if not unit.text.rstrip().endswith(":"):
            continue
        for item in items(unit):
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
