"""Checks on a model-written answer against the sources it was given: pure functions, no model.

A sentence passes when it cites at least one given source ([n], 1 <= n <= number of sources), every
quoted span ("…") occurs verbatim in a source it cites, and every date and number in it occurs in
a source it cites (title, date and section count as part of the source). A sentence that fails is
dropped; an answer with nothing left is replaced by the quoted answer. The result says which
sentence failed and why, for the record and the UI.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .dates import MONTHS as DANISH_MONTHS
from .prompts import ABSTAIN_PHRASES
from .types import Hit

_MARKER = re.compile(r"\[(\d+)\]")
_MARKERS = re.compile(r"(?:\s*\[\d+\])+")
# A sentence ends after its citation markers, or at . ! ? followed by a capital letter, where the
# full stop does not end a number ('31. maj') or a common Danish abbreviation ('f.eks.', 'jf.').
_ABBREVIATIONS = ("f.eks", "bl.a", "jf", "ca", "nr", "pkt", "stk", "evt", "mv", "inkl", "kl", "dvs", "e.g", "i.e")
_QUOTE = re.compile(r"[\"“”„«»]([^\"“”„«»]{3,})[\"“”„«»]")
_DANISH = tuple(DANISH_MONTHS)
_ENGLISH = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
            "november", "december")
MONTHS = {name: n for names in (_DANISH, _ENGLISH) for n, name in enumerate(names, start=1)}  # an English
# answer's '31 May' is the Danish source's '31. maj'
_DAY_MONTH = re.compile(r"\b(\d{1,2})\.?\s+(" + "|".join(MONTHS) + r")\b", re.I)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Sentence:
    text: str  # as written, markers included
    claim: str  # without the markers
    cites: tuple[int, ...]


@dataclass(frozen=True)
class Problem:
    sentence: int  # index into the answer's sentences
    kind: str  # uncited | unknown_source | invented_quote | unsupported_date | unsupported_number | empty
    detail: str = ""

    def record(self) -> dict:
        return {"sentence": self.sentence, "kind": self.kind, "detail": self.detail}


@dataclass
class Validation:
    sentences: list[Sentence]
    problems: list[Problem] = field(default_factory=list)
    abstained: bool = False  # the model said the sources do not answer

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def kept(self) -> list[Sentence]:
        bad = {p.sentence for p in self.problems}
        return [s for i, s in enumerate(self.sentences) if i not in bad]


def sentences(answer: str) -> list[Sentence]:
    """The answer split into sentences, each with the source numbers it cites."""
    text = re.sub(r"\s+", " ", answer.replace("**", "")).strip()
    found: list[Sentence] = []
    start = 0
    for match in re.finditer(r"(?:\s*\[\d+\])+\s*[.!?]?|[.!?](?=\s+[A-ZÆØÅ\"“„«])", text):
        end = match.end()
        if match.group().strip()[0] in ".!?" and _ends_abbreviation(text[start:match.start()]):
            continue
        piece = text[start:end].strip()
        if piece:
            found.append(_sentence(piece))
        start = end
    if text[start:].strip(" .!?"):
        found.append(_sentence(text[start:].strip()))
    return found


def _ends_abbreviation(before: str) -> bool:
    last = before.rsplit(" ", 1)[-1].lower()
    return last.isdigit() or last in _ABBREVIATIONS


def _sentence(piece: str) -> Sentence:
    cites = tuple(dict.fromkeys(int(n) for n in _MARKER.findall(piece)))
    return Sentence(text=piece, claim=_MARKERS.sub("", piece).strip(), cites=cites)


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("–", "-").replace("—", "-")).strip().lower()


def _numbers(text: str) -> set[str]:
    return {n.replace(".", "").replace(",", "") for n in _NUMBER.findall(text)}


def _day_months(text: str) -> set[tuple[int, int]]:
    return {(int(day), MONTHS[month.lower()]) for day, month in _DAY_MONTH.findall(text)}


def is_abstention(answer: str) -> bool:
    plain = _normal(_MARKERS.sub("", answer.replace("**", "")))
    return any(phrase in plain for phrase in ABSTAIN_PHRASES) and len(plain) < 200


def validate(answer: str, sources: list[Hit]) -> Validation:
    """Every sentence checked against the sources it cites (numbered from 1 in ``sources``' order)."""
    if is_abstention(answer):
        return Validation(sentences=sentences(answer), abstained=True)
    texts = [" ".join((h.chunk.meta.title, h.chunk.meta.date, h.chunk.section, h.chunk.text)) for h in sources]
    result = Validation(sentences=sentences(answer))
    if not result.sentences:
        result.problems.append(Problem(-1, "empty"))
    for i, sentence in enumerate(result.sentences):
        unknown = [n for n in sentence.cites if not 1 <= n <= len(sources)]
        if not sentence.cites:
            result.problems.append(Problem(i, "uncited"))
            continue
        if unknown:
            result.problems.append(Problem(i, "unknown_source", ", ".join(map(str, unknown))))
            continue
        cited = " ".join(texts[n - 1] for n in sentence.cites)
        problem = _unsupported(sentence.claim, cited)
        if problem:
            result.problems.append(Problem(i, *problem))
    return result


def _unsupported(claim: str, cited: str) -> tuple[str, str] | None:
    """The first thing in a claim that the cited text does not contain: a quote, a date, a number."""
    normal = _normal(cited)
    for quote in _QUOTE.findall(claim):
        if _normal(quote).strip(" .,") not in normal:
            return "invented_quote", quote
    dates = _day_months(cited)
    for day, month in _day_months(claim):
        if (day, month) not in dates:
            return "unsupported_date", f"{day}. {_DANISH[month - 1]}"
    claim_without_dates = _DAY_MONTH.sub(lambda m: m.group(2), claim)
    numbers = _numbers(cited)
    for number in sorted(_numbers(claim_without_dates)):
        if number not in numbers:
            return "unsupported_number", number
    return None
