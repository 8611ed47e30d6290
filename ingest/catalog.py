"""Document metadata: a ``NAME.meta.yaml`` sidecar beside each file, or a guess from the text."""
from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import yaml

from kb.types import CleanDocument, DocumentMeta

from .load import SIDECAR_SUFFIX

log = logging.getLogger(__name__)

MONTHS = {m: i for i, m in enumerate(
    "januar februar marts april maj juni juli august september oktober november december".split(), 1)}
_MONTH = "|".join(MONTHS)
_FULL_DATE = re.compile(rf"\b(\d{{1,2}})\.\s*({_MONTH})\s+(\d{{4}})\b", re.I)
_NUM_DATE = re.compile(r"\b(\d{1,2})[-./](\d{1,2})[-./](\d{4})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MONTH_YEAR = re.compile(rf"\b({_MONTH})\s+(\d{{4}})\b", re.I)
_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")
_DATE_LABEL = re.compile(r"\bDato:\s*(.{6,30})", re.I)
_CASE_NUMBER = re.compile(r"\bSagsnr\.?:?\s*([0-9][0-9 /.\-]{3,20}[0-9])", re.I)

# Ordered: the first keyword found in the title (then the text) names the type.
DOC_TYPES = [
    ("afrapporteringsskema", "afrapporteringsskema"),
    ("forløbsbeskrivelse", "forløbsbeskrivelse"),
    ("sagsfremstilling", "sagsfremstilling"),
    ("dagsorden", "sagsfremstilling"),
    ("anmodning", "anmodning"),
    ("central udmelding", "central udmelding"),
    ("vejledning", "vejledning"),
]
FIELDS = ("title", "doc_type", "issuer", "date", "case_number")


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def find_date(text: str) -> str:
    """The first date in text as ISO (YYYY-MM-DD, else YYYY-MM, else YYYY), or ''."""
    label = _DATE_LABEL.search(text)
    for candidate in ([label.group(1)] if label else []) + [text]:
        if m := _FULL_DATE.search(candidate):
            return _iso(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1)))
        if m := _ISO_DATE.search(candidate):
            return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m := _NUM_DATE.search(candidate):
            return _iso(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    if m := _MONTH_YEAR.search(text):
        return f"{int(m.group(2)):04d}-{MONTHS[m.group(1).lower()]:02d}"
    if m := _YEAR.search(text):
        return m.group(1)
    return ""


def _iso(year: int, month: int, day: int) -> str:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return f"{year:04d}"


def guess_meta(doc_id: str, source: str, doc: CleanDocument) -> DocumentMeta:
    """Metadata from the text alone, for documents that arrive without a sidecar."""
    title = next((b.text for b in doc.blocks if b.kind in ("heading", "paragraph") and ":" not in b.text[:12]),
                 doc_id)
    title = title if len(title) <= 200 else title[:197].rsplit(" ", 1)[0] + " …"
    haystack = f"{title}\n{doc.text[:3000]}".lower()
    doc_type = next((name for key, name in DOC_TYPES if key in title.lower()), None) or \
        next((name for key, name in DOC_TYPES if key in haystack), "ukendt")
    case = _CASE_NUMBER.search(doc.text)
    return DocumentMeta(doc_id=doc_id, source=source, title=title, doc_type=doc_type,
                        date=find_date(doc.text), case_number=case.group(1).strip() if case else "",
                        guessed=True)


def read_sidecar(path: Path) -> dict[str, str]:
    """The sidecar's fields as strings; raises ValueError with the reason if it is malformed."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"metadatafil {path.name} kan ikke læses: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"metadatafil {path.name} skal være en YAML-ordbog")
    out = {}
    for key in FIELDS:
        value = data.get(key)
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()[:10]
        if value is not None:
            out[key] = str(value).strip()
    return out


def document_meta(path: Path, doc_id: str, source: str, doc: CleanDocument) -> DocumentMeta:
    """Sidecar fields win; missing fields are guessed, with a warning so curators can fill them."""
    guessed = guess_meta(doc_id, source, doc)
    sidecar = sidecar_path(path)
    if not sidecar.exists():
        log.warning("Ingen metadatafil for %s: titel, type og dato er gættet ud fra teksten", source)
        return guessed
    fields = read_sidecar(sidecar)
    if fields.get("date"):
        fields["date"] = find_date(fields["date"]) or fields["date"]
    return DocumentMeta(doc_id=doc_id, source=source,
                        title=fields.get("title") or guessed.title,
                        doc_type=fields.get("doc_type") or guessed.doc_type,
                        issuer=fields.get("issuer", ""),
                        date=fields.get("date") or guessed.date,
                        case_number=fields.get("case_number") or guessed.case_number,
                        guessed=False)
