"""Document metadata: a ``NAME.meta.yaml`` sidecar beside each file, or a guess from the text."""
from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import yaml

from kb.dates import find_date
from kb.errors import BadFileError
from kb.types import CleanDocument, DocumentMeta

from .load import SIDECAR_SUFFIX

log = logging.getLogger(__name__)

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
FIELDS = ("title", "doc_type", "issuer", "date", "case_number", "matter")
RELATIONS = ("follows", "replaces", "answers")  # lists of other documents' file names


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.stem + SIDECAR_SUFFIX)


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
    """The sidecar's fields as strings; raises BadFileError with the reason if it is malformed."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BadFileError(f"metadatafil {path.name} kan ikke læses: {exc}") from exc
    if not isinstance(data, dict):
        raise BadFileError(f"metadatafil {path.name} skal være en YAML-ordbog")
    out = {}
    for key in FIELDS:
        value = data.get(key)
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()[:10]
        if value is not None:
            out[key] = str(value).strip()
    for key in RELATIONS:
        value = data.get(key) or []
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BadFileError(f"metadatafil {path.name}: {key} skal være et filnavn eller en liste af filnavne")
        out[key] = "|".join(n.strip() for n in names if n.strip())
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
                        guessed=False, matter=fields.get("matter", ""),
                        **{key: tuple(filter(None, fields[key].split("|"))) for key in RELATIONS})
