"""Conversation state: what a follow-up question refers to.

A follow-up ('Hvorfor?', 'Og hvornår er fristen?', 'Hvem behandlede den?') is searched and judged
together with the topic of the earlier turns, and the passages the previous answer cited are
offered as candidates. A question that names its own topic is answered on its own, however short.
Everything goes through ``resolve`` (a ``Condenser``), so an LLM condenser can replace the rules.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .intent import cue_words
from .text import DANISH_STOPWORDS, ENGLISH_STOPWORDS, words
from .types import Turn


@dataclass(frozen=True)
class Resolution:
    text: str  # what retrieval searches and the answer is judged against
    focus: str  # the current question alone: what is asked now
    follow_up: bool
    context: tuple[str, ...] = ()  # chunk ids the previous answer cited, for a follow-up


Condenser = Callable[[str, Sequence[Turn]], Resolution]

_CONTINUES = re.compile(r"^\W*(og|men|hvad med|hvad så med|hvordan med|også|samme|and|but|what about|how about|"
                        r"also|so)\b", re.I)
# Pronouns that point back whatever follows them.
_POINTS_BACK = frozenset("hun hende hendes han ham hans dem deres så it they them their its she her he him "
                         "his there that this those these then".split())
# Danish words that are a pronoun alone ('Hvem behandlede den?') but an article before an adjective
# and noun ('den centrale udmelding', 'de fem KKR-områder').
_ARTICLE_OR_PRONOUN = frozenset("den det de denne dette disse".split())
_NUMERALS = frozenset("to tre fire fem seks syv otte ni ti mange få".split())
# Words that would otherwise look like topic pronouns but are fixed phrases.
_NOT_POINTING = re.compile(r"\b(er det|det er)\b", re.I)


def refers_back(question: str) -> bool:
    """Whether the question points to something said before: it continues ('Og …', 'What about …')
    or uses a pronoun for its topic ('Hvem behandlede den?', 'Hvornår skal den sendes?')."""
    if _CONTINUES.search(question):
        return True
    tokens = words(_NOT_POINTING.sub(" ", question))
    for i, token in enumerate(tokens):
        if token in _POINTS_BACK:
            return True
        if token in _ARTICLE_OR_PRONOUN:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            after = tokens[i + 2] if i + 2 < len(tokens) else ""
            article = nxt in _NUMERALS or nxt.isdigit() or \
                (nxt.endswith("e") and len(nxt) > 3 and nxt not in DANISH_STOPWORDS and bool(after))
            if not article:
                return True
    return False


def topic_words(text: str) -> list[str]:
    """Content words that name what a question is about: not stop words and not the words that
    only say what kind of answer is wanted ('frist', 'hvornår', 'begrundelse')."""
    cues = cue_words(text)
    return [w for w in words(text) if len(w) > 1 and w not in DANISH_STOPWORDS and w not in ENGLISH_STOPWORDS
            and w not in cues and w not in _POINTS_BACK and w not in _ARTICLE_OR_PRONOUN]


def resolve(question: str, turns: Sequence[Turn]) -> Resolution:
    """The rule-based condenser: a follow-up is searched with the earlier turn's topic."""
    if not turns or (topic_words(question) and not refers_back(question)):
        return Resolution(text=question, focus=question, follow_up=False)
    last = turns[-1]
    return Resolution(text=f"{last.searched.strip()} {question.strip()}", focus=question, follow_up=True,
                      context=last.cited)
