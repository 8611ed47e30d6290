"""Danish dates in text: finding them (document metadata, filters) and recognising them (answers)."""
from __future__ import annotations

import datetime as dt
import re

MONTHS = {m: i for i, m in enumerate(
    "januar februar marts april maj juni juli august september oktober november december".split(), 1)}
_MONTH = "|".join(MONTHS)
_FULL_DATE = re.compile(rf"\b(\d{{1,2}})\.\s*({_MONTH})\s+(\d{{4}})\b", re.I)
_NUM_DATE = re.compile(r"\b(\d{1,2})[-./](\d{1,2})[-./](\d{4})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_ISO_MONTH = re.compile(r"\b(\d{4})-(\d{2})\b(?!-\d)")
_MONTH_YEAR = re.compile(rf"\b({_MONTH})\s+(\d{{4}})\b", re.I)
_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")
_DATE_LABEL = re.compile(r"\bDato:\s*(.{6,30})", re.I)

# Any date-like mention, for recognising sentences that answer a 'hvornår' question.
DATE_MENTION = re.compile(rf"\b\d{{1,2}}\.\s*(?:{_MONTH})\b|\b\d{{1,2}}[-./]\d{{1,2}}[-./]\d{{2,4}}\b|"
                          rf"\b(?:{_MONTH})\s+\d{{4}}\b|\b(?:19|20)\d{{2}}\b", re.I)


def find_date(text: str) -> str:
    """The first date in text as ISO (YYYY-MM-DD, else YYYY-MM, else YYYY), or ''. A 'Dato:' label wins."""
    label = _DATE_LABEL.search(text)
    for candidate in ([label.group(1)] if label else []) + [text]:
        if m := _FULL_DATE.search(candidate):
            return _iso(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1)))
        if m := _ISO_DATE.search(candidate):
            return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m := _NUM_DATE.search(candidate):
            return _iso(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    if (m := _ISO_MONTH.search(text)) and 1 <= int(m.group(2)) <= 12:
        return f"{m.group(1)}-{m.group(2)}"
    if m := _MONTH_YEAR.search(text):
        return f"{int(m.group(2)):04d}-{MONTHS[m.group(1).lower()]:02d}"
    if m := _YEAR.search(text):
        return m.group(1)
    return ""


# The forms a filter bound may be typed in: a year, ISO month or day, DD-MM-YYYY, '31. december 2024', 'maj 2022'.
_USER_FORMS = tuple(re.compile(p, re.I) for p in (
    r"(?P<y>\d{4})", r"(?P<y>\d{4})-(?P<m>\d{1,2})", r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})",
    r"(?P<d>\d{1,2})[-./](?P<m>\d{1,2})[-./](?P<y>\d{4})",
    rf"(?P<d>\d{{1,2}})\.?\s*(?P<name>{_MONTH})\s+(?P<y>\d{{4}})", rf"(?P<name>{_MONTH})\s+(?P<y>\d{{4}})"))


def parse_user_date(value: str) -> str | None:
    """A filter bound as a person typed it, as ISO (YYYY, YYYY-MM or YYYY-MM-DD), or None unless the
    whole value is one real year, month or day: '2025-13-45' and '31-02-2025' are refused, not read
    as the year 2025."""
    for pattern in _USER_FORMS:
        if (match := pattern.fullmatch(value.strip())) is None:
            continue
        parts = match.groupdict()
        year = int(parts["y"])
        month = MONTHS[parts["name"].lower()] if parts.get("name") else int(parts["m"]) if parts.get("m") else None
        if month is None:
            return f"{year:04d}"
        if parts.get("d") is None:
            return f"{year:04d}-{month:02d}" if 1 <= month <= 12 else None
        try:
            return dt.date(year, month, int(parts["d"])).isoformat()
        except ValueError:
            return None
    return None


def _iso(year: int, month: int, day: int) -> str:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return f"{year:04d}"


# A deadline: a day and month (perhaps a year) shortly after 'senest', 'frist', 'inden' or 'deadline'.
_DEADLINE = re.compile(rf"\b(?:senest|frist(?:en)?|inden|deadline|no later than|by)\b[^.;:]{{0,40}}?"
                       rf"\b(\d{{1,2}})\.\s*({_MONTH})(?:\s+(\d{{4}}))?", re.I)


def deadlines(text: str, written: str) -> list[dt.date]:
    """The deadlines a text states, as dates. One without a year is the first such day on or after
    the date the document was written (``written``, ISO); without that date it is left out."""
    found: list[dt.date] = []
    start = parse_user_date(written) if written else None
    for match in _DEADLINE.finditer(text):
        day, month = int(match.group(1)), MONTHS[match.group(2).lower()]
        try:
            if match.group(3):
                found.append(dt.date(int(match.group(3)), month, day))
                continue
            if not start:
                continue
            parts = [int(p) for p in start.split("-")] + [1, 1]
            since = dt.date(parts[0], parts[1], parts[2]) if len(start) > 4 else dt.date(parts[0], 1, 1)
            candidate = dt.date(since.year, month, day)
            found.append(candidate if candidate >= since else dt.date(since.year + 1, month, day))
        except ValueError:
            continue
    return found


def danish_date(day: dt.date) -> str:
    return f"{day.day}. {list(MONTHS)[day.month - 1]} {day.year}"
