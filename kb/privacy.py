"""Masking of personal data that practitioners may paste into the chat, before anything is stored
or logged: Danish CPR numbers (with or without the dash, dots or spaces), phone numbers, e-mail
addresses, and personal names (common Danish first names and surnames, capitalised, that are not
words of the documents, and an unknown capitalised word right after such a name)."""
from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from .names import FIRST_NAMES, SURNAMES
from .text import DANISH_STOPWORDS

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# DDMMYY-SSSS, DDMMYYSSSS, DD.MM.YY-SSSS, 'DD MM YY SSSS': day 01-31 and month 01-12 keep case
# numbers like 2019-5570 out; a full year (DD.MM.YYYY) is a date, not a CPR number.
_CPR = re.compile(r"(?<![\d.])(?:0[1-9]|[12]\d|3[01])([. ]?)(?:0[1-9]|1[0-2])\1\d{2} ?[- ]? ?\d{4}(?!\d)")
# Danish numbers: 8 digits, optionally +45/0045, written together or in groups of 2 or 4.
_PHONE = re.compile(r"(?<![\d/])(?:(?:\+|00)45[ -]?)?(?:\d{8}|\d{2}(?:[ -]\d{2}){3}|\d{4}[ -]\d{4})(?![\d/])")

MASKS = (("[EMAIL]", _EMAIL), ("[CPR]", _CPR), ("[TELEFON]", _PHONE))
NAME = "[NAVN]"

_CAPITALISED = re.compile(r"\b[A-ZÆØÅ][a-zæøåéèüö]+(?:-[A-ZÆØÅ][a-zæøåéèüö]+)*\b")
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\n\"'»«(\[])\s*$")
_MID_SENTENCE_CAPITAL = re.compile(r"(?<=[a-zæøå0-9,] )[A-ZÆØÅ][a-zæøåéèüö]+")
_WORD = re.compile(r"[A-Za-zÆØÅæøåéèüö]+")


def known_words(texts: Iterable[str]) -> frozenset[str]:
    """The documents' vocabulary for name masking: every word in lower case, and capitalised words
    the documents use mid-sentence (their own proper nouns) as written."""
    known: set[str] = set()
    for text in texts:
        known.update(w.lower() for w in _WORD.findall(text))
        known.update(_MID_SENTENCE_CAPITAL.findall(text))
    return frozenset(known)


def _is_listed(word: str) -> bool:
    return all(part in FIRST_NAMES or part in SURNAMES for part in word.split("-"))


def name_spans(text: str, known: Collection[str] = ()) -> list[tuple[int, int]]:
    """Where personal names are: a listed name written with a capital, unless the documents use it
    as written mid-sentence, or it opens a sentence and is also an ordinary word there ('Per',
    'Hans', 'Sommer'); an unlisted capitalised word next to a name ('Asger Nielsen', 'Mette
    Kowalski') counts as part of it."""
    words = list(_CAPITALISED.finditer(text))
    ordinary = [w.group().lower() in known or w.group().lower() in DANISH_STOPWORDS for w in words]
    name = [False] * len(words)
    for i, match in enumerate(words):
        word = match.group()
        opens_sentence = bool(_SENTENCE_END.search(text[:match.start()]))
        name[i] = _is_listed(word) and word not in known and not (opens_sentence and ordinary[i])
    for i in range(len(words)):  # neighbours of a name, both ways, until a gap or an ordinary word
        for j in (i - 1, i + 1):
            if name[i] and 0 <= j < len(words) and not name[j] and not ordinary[j] and words[j].group() not in known:
                left, right = sorted((words[i], words[j]), key=lambda m: m.start())
                name[j] = text[left.end():right.start()] == " "
    spans: list[tuple[int, int]] = []
    for match, is_name in zip(words, name, strict=True):
        if not is_name:
            continue
        if spans and text[spans[-1][1]:match.start()] == " ":
            spans[-1] = (spans[-1][0], match.end())
        else:
            spans.append((match.start(), match.end()))
    return spans


def mask(text: str, known: Collection[str] = ()) -> str:
    """Personal data replaced by [CPR], [TELEFON], [EMAIL] and [NAVN]. ``known`` is the documents'
    vocabulary (``known_words``); without it, any listed name is masked."""
    for placeholder, pattern in MASKS:
        text = pattern.sub(placeholder, text)
    for start, end in reversed(name_spans(text, known)):
        text = text[:start] + NAME + text[end:]
    return text


# The word a person puts in front of the data ('CPR', 'tlf.', 'mail', 'borgeren'): removed with it, so
# that what is left of the question is judged on its own words ('mail' is not a topic the documents
# fail to cover).
_LABEL = r"(?:\b(?:cpr(?:-?nr\.?|-?nummer)?|tlf\.?|telefon(?:nummer|nr\.?)?|mobil(?:nummer|nr\.?)?|" \
         r"e-?mail(?:adresse)?|mail(?:adresse)?|phone|email|navn(?:et)?|name|borger(?:en)?|klient(?:en)?|" \
         r"mor(?:en)?|moderen|far(?:en)?|faderen|kvinde(?:n)?|client|mother|mvh|hilsen|regards)\s*:?\s*)?"


def strip(text: str, known: Collection[str] = ()) -> str:
    """Personal data removed altogether: it never helps to find guidance, and must not be searched.
    The punctuation that held it goes too ('Anne Hansen: q' and 'q (CPR 010203-1234).' search as 'q')."""
    masked = mask(text, known)
    if masked == text:
        return " ".join(text.split())
    text = masked
    for placeholder in (NAME, *(p for p, _ in MASKS)):
        text = re.sub(_LABEL + re.escape(placeholder) + r"\s*[,:;]?", " ", text, flags=re.I)
    text = re.sub(r"\(\s*[,:;.]?\s*\)", " ", text)  # parentheses left empty
    text = re.sub(r"^[\s,:;.]+", "", text)  # punctuation left in front of the question
    text = re.sub(r"\s+([,:;.?!])", r"\1", text)
    text = re.sub(r"[,:;]+(?=[.?!]|$)", "", text.strip())
    return " ".join(text.split())


def contains_personal_data(text: str, known: Collection[str] = ()) -> bool:
    return mask(text, known) != text
