"""Masking of personal data that practitioners may paste into the chat, before anything is stored
or logged: Danish CPR numbers (with or without the dash), phone numbers and e-mail addresses."""
from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# DDMMYY-SSSS, DDMMYYSSSS, DD.MM.YY-SSSS, 'DD MM YY SSSS': day 01-31 and month 01-12 keep case
# numbers like 2019-5570 out; a full year (DD.MM.YYYY) is a date, not a CPR number.
_CPR = re.compile(r"(?<![\d.])(?:0[1-9]|[12]\d|3[01])([. ]?)(?:0[1-9]|1[0-2])\1\d{2} ?[- ]? ?\d{4}(?!\d)")
# Danish numbers: 8 digits, optionally +45/0045, written together or in groups of 2 or 4.
_PHONE = re.compile(r"(?<![\d/])(?:(?:\+|00)45[ -]?)?(?:\d{8}|\d{2}(?:[ -]\d{2}){3}|\d{4}[ -]\d{4})(?![\d/])")

MASKS = (("[EMAIL]", _EMAIL), ("[CPR]", _CPR), ("[TELEFON]", _PHONE))


def mask(text: str) -> str:
    for placeholder, pattern in MASKS:
        text = pattern.sub(placeholder, text)
    return text


# The word a person puts in front of the data ('CPR', 'tlf.', 'mail'): removed with it, so that what is
# left of the question is judged on its own words ('mail' is not a topic the documents fail to cover).
_LABEL = r"(?:\b(?:cpr(?:-?nr\.?|-?nummer)?|tlf\.?|telefon(?:nummer|nr\.?)?|mobil(?:nummer|nr\.?)?|" \
         r"e-?mail(?:adresse)?|mail(?:adresse)?|phone|email)\s*:?\s*)?"


def strip(text: str) -> str:
    """Personal data removed altogether: it never helps to find guidance, and must not be searched."""
    for _, pattern in MASKS:
        text = re.sub(_LABEL + pattern.pattern, " ", text, flags=re.I)
    return " ".join(text.split())


def contains_personal_data(text: str) -> bool:
    return mask(text) != text
