"""One normaliser that every format passes through, producing typed blocks with offsets.

It repairs what extraction breaks (lines wrapped mid-sentence by PDF export, page furniture,
soft hyphens, markdown emphasis) while keeping what carries meaning: headings, list items and
table rows, each as its own block.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from kb.types import Block, CleanDocument

_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_SPACES = dict.fromkeys(map(ord, "\u00a0\u202f\u2007\u2009\u200a\u3000"), " ")
_HYPHENS = dict.fromkeys(map(ord, "\u2010\u2011\u2212"), "-")
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
# "1. Tekst" is a list item, "27. september 2022" is a date: a numbered item starts uppercase.
_LIST_ITEM = re.compile(r"^(?:[-*+•▪◦●·‣■□➢✓]|\d{1,2}\)|\d{1,2}\.(?=\s+[^a-zæøå\s])|[a-zæøå]\))\s+(.*)$")
_NUMBERED = re.compile(r"^(?:\d{1,2}\)|\d{1,2}\.(?=\s+[^a-zæøå\s])|[a-zæøå]\))\s")
_PAGE_NUMBER = re.compile(r"^\s*(?:side|page|s\.)?\s*[-–]?\s*\d{1,4}\s*(?:(?:af|of|/)\s*\d{1,4})?\s*[-–]?\s*$", re.I)
_SIDE_AF = re.compile(r"^\s*(?:side|page)\s+\d{1,4}\s+(?:af|of)\s+\d{1,4}\s*$", re.I)
_FOOTNOTE = re.compile(r"^[¹²³⁴⁵⁶⁷⁸⁹⁰]+\s")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")

# Words that cannot end a sentence: a line ending in one continues on the next.
_CONNECTIVES = frozenset("""
og eller samt men at som der den det de en et i af til for med om på fra ved under over mellem
efter før hos mod uden vedr jf fx herunder både end hvor når hvis da the and or of to in for with
""".split())


def normalise_unicode(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    for lig, plain in _LIGATURES.items():
        text = text.replace(lig, plain)
    text = text.translate(_INVISIBLE).translate(_SPACES).translate(_HYPHENS)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def strip_markdown_inline(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\((?:[^)]*)\)", r"\1", text)  # links keep their words
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    text = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"\1", text)
    text = re.sub(r"\*\*|(?<!\w)__(?!\w)", "", text)  # unmatched emphasis markers
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|])", r"\1", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def drop_page_furniture(pages: list[str]) -> list[str]:
    """Remove page numbers and headers/footers that repeat on at least half of the pages."""
    if len(pages) < 2:
        return pages
    edge_counts: Counter[str] = Counter()
    page_lines = [p.split("\n") for p in pages]
    for lines in page_lines:
        edge_counts.update({_furniture_key(line) for line in _edge_lines(lines)})
    repeated = {k for k, n in edge_counts.items() if k and n >= max(2, len(pages) / 2)}
    cleaned = []
    for lines in page_lines:
        edges = set(map(id, _edge_lines(lines)))
        kept = [line for line in lines
                if not (id(line) in edges and (_PAGE_NUMBER.match(line) or _furniture_key(line) in repeated))]
        cleaned.append("\n".join(kept))
    return cleaned


def _edge_lines(lines: list[str]) -> list[str]:
    nonblank = [line for line in lines if line.strip()]
    return nonblank[:2] + nonblank[-2:]


def _furniture_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


@dataclass
class _Line:
    kind: str  # text, heading, list_item, table, footnote
    text: str
    level: int = 0
    cells: tuple[str, ...] = ()


def _classify(raw: str) -> _Line | None:
    if "\t" in raw.strip("\n") and len([c for c in raw.split("\t") if c.strip()]) >= 2:
        return _Line("table", "", cells=tuple(strip_markdown_inline(c) for c in raw.split("\t")))
    line = raw.strip()
    if not line or _SIDE_AF.match(line):
        return None
    if line.startswith("|") and line.count("|") >= 2:
        if _TABLE_SEPARATOR.match(line):
            return None
        return _Line("table", "", cells=tuple(strip_markdown_inline(c) for c in line.strip("|").split("|")))
    if m := _MD_HEADING.match(line):
        return _Line("heading", strip_markdown_inline(m.group(2)), level=len(m.group(1)))
    if m := _LIST_ITEM.match(line):
        body = strip_markdown_inline(m.group(1))
        if m2 := _LIST_ITEM.match(body):  # "- 1) text" keeps the number, drops the bullet
            if _NUMBERED.match(body):
                return _Line("list_item", body)
            body = strip_markdown_inline(m2.group(1))
        marker = line.split()[0] if _NUMBERED.match(line) else ""
        return _Line("list_item", f"{marker} {body}".strip())
    if _FOOTNOTE.match(line):
        return _Line("footnote", strip_markdown_inline(line))
    return _Line("text", strip_markdown_inline(line))


def _continues(prev: str, nxt: str, wrap_width: float) -> bool:
    """Does line ``nxt`` continue the sentence of ``prev`` (a line wrapped by extraction)?"""
    last_word = prev.split()[-1].lower().strip("(\"'") if prev.split() else ""
    if prev.endswith("-") and len(prev) > 1 and prev[-2].isalpha():
        return True
    if nxt[:1].islower():
        return True
    if prev[-1] in ".!?":
        return False
    if prev[-1] in ",;" or last_word in _CONNECTIVES:
        return True
    # Only hard-wrapped text (PDF export: lines of 50-150 characters) has long lines that break
    # mid-sentence; in one-line-per-paragraph text a long line is a whole paragraph.
    return 50 <= wrap_width <= 150 and len(prev) >= 0.7 * wrap_width


def _join(prev: str, nxt: str) -> str:
    if prev.endswith("-") and prev[-2:-1].isalpha() and nxt[:1].islower():
        first = nxt.split()[0]
        if first in {"og", "eller", "samt", "til", "and", "or"}:
            return f"{prev} {nxt}"  # Danish suspended hyphen: "Social- og ..."
        return prev[:-1] + nxt
    return f"{prev} {nxt}"


def _is_label(text: str) -> bool:
    return text.endswith(":") and len(text) <= 30


# A title page's issuer glued to its year by PDF extraction ('Socialstyrelsen2022'), alone on its line.
_GLUED_YEAR = re.compile(r"(\S*[^\W\d_])((?:19|20)\d\d)")


def _looks_like_heading(text: str) -> bool:
    n_words = len(text.split())
    return (len(text) <= 80 and 1 <= n_words <= 12 and (text[0].isupper() or text[0].isdigit())
            and text[-1] not in ".,;:!?" and sum(c.isalpha() for c in text) >= 4
            and "http" not in text and "@" not in text)


def _table_rows(rows: list[tuple[str, ...]]) -> list[str]:
    """A table as readable rows: 'row label – header: value; header: value'."""
    rows = [tuple(c.strip() for c in r) for r in rows]
    width = max(len(r) for r in rows)
    rows = [r + ("",) * (width - len(r)) for r in rows]
    header, body = rows[0], rows[1:]
    if not body:
        return [" | ".join(c for c in header if c)]
    out = []
    for r in body:
        pairs = [f"{h}: {v}" if h else v for h, v in zip(header[1:], r[1:], strict=False) if v]
        label = r[0]
        if not header[0] and label:
            out.append(f"{label} – {'; '.join(pairs)}" if pairs else label)
        else:
            cells = [f"{h}: {v}" if h else v for h, v in zip(header, r, strict=False) if v]
            out.append("; ".join(cells))
    return out


def clean(text: str) -> CleanDocument:
    text = normalise_unicode(text)
    pages = drop_page_furniture(text.split("\f"))
    lines = [line for line in (_classify(raw) for raw in "\n".join(pages).split("\n")) if line is not None]
    has_md_headings = any(line.kind == "heading" for line in lines)
    text_lengths = sorted(len(line.text) for line in lines if line.kind == "text")
    wrap_width = text_lengths[int(0.9 * (len(text_lengths) - 1))] if text_lengths else 0

    pieces: list[tuple[str, str, int]] = []  # (kind, text, level)
    para: list[str] = []
    last_line = ""  # the last physical line of para, whose length tells whether it was wrapped
    label = False
    footnotes: list[str] = []
    table: list[tuple[str, ...]] = []

    def flush_para() -> None:
        nonlocal label
        if para:
            body = " ".join(para)
            if _GLUED_YEAR.fullmatch(body):
                body = _GLUED_YEAR.sub(r"\1 \2", body)
            is_heading = not has_md_headings and not label and _looks_like_heading(body)
            pieces.append(("heading", body, 1) if is_heading else ("paragraph", body, 0))
            para.clear()
        label = False
        for note in footnotes:
            pieces.append(("paragraph", note, 0))
        footnotes.clear()

    def flush_table() -> None:
        if table:
            pieces.extend(("table_row", row, 0) for row in _table_rows(table))
            table.clear()

    for line in lines:
        if line.kind != "table":
            flush_table()
        if line.kind == "footnote":
            footnotes.append(line.text)
            continue
        if line.kind == "text":
            if para and _continues(last_line, line.text, wrap_width):
                para[-1] = _join(para[-1], line.text)
            elif para and _is_label(para[-1]) and len(para) == 1 and len(line.text) <= 60:
                para[-1] = f"{para[-1]} {line.text}"
                label = True
            elif pieces and pieces[-1][0] == "list_item" and not para and line.text[:1].islower():
                kind, body, level = pieces.pop()
                pieces.append((kind, _join(body, line.text), level))
            else:
                flush_para()
                para.append(line.text)
            last_line = line.text
            continue
        flush_para()
        if line.kind == "table":
            table.append(line.cells)
        elif line.kind == "heading":
            pieces.append(("heading", line.text, line.level))
        else:
            pieces.append((line.kind if line.kind == "list_item" else "paragraph", line.text, 0))
    flush_para()
    flush_table()
    return _assemble(pieces)


def _assemble(pieces: list[tuple[str, str, int]]) -> CleanDocument:
    blocks: list[Block] = []
    parts: list[str] = []
    offset = 0
    for kind, body, level in pieces:
        body = body.strip()
        if not body:
            continue
        if parts:
            offset += 2
        blocks.append(Block(kind=kind, text=body, start=offset, end=offset + len(body), level=level))
        parts.append(body)
        offset += len(body)
    return CleanDocument(text="\n\n".join(parts), blocks=tuple(blocks))
