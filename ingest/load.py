"""One loader per file format; each returns the document's text in a common light markdown.

Headings come out as ``#`` lines, list items as ``- `` lines and tables as ``|``-separated rows,
so that one cleaner (``ingest.clean``) can treat every format alike. PDF pages are separated by
form feeds so the cleaner can drop repeated page furniture.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable

from kb.config import IngestSettings
from kb.errors import BadFileError
from kb.types import RawDocument


class LoadError(BadFileError):
    """A file the loaders cannot read as a document; the message says why."""


SIDECAR_SUFFIX = ".meta.yaml"


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise LoadError("binær fil (indeholder NUL-bytes), ikke tekst")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="strict") if _plausible_cp1252(data) else None
        if text is None:
            raise LoadError("ikke læsbar som UTF-8 eller Windows-1252 tekst") from None
    control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    if text and control / len(text) > 0.01:
        raise LoadError("ligner en binær fil (mange kontroltegn)")
    return text


def _plausible_cp1252(data: bytes) -> bool:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def load_text(path: Path) -> str:
    return _read_text(path)


def load_pdf(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("krypteret PDF (kræver en adgangskode); gem den uden kryptering og prøv igen")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"PDF kan ikke læses: {exc}") from exc
    if not any(p.strip() for p in pages):
        raise LoadError("PDF uden udtrækkelig tekst (måske en scannet PDF)")
    return "\f".join(pages)


def _check_unpacked_size(path: Path, limit_bytes: int) -> None:
    """A .docx is a zip: refuse it before parsing when its parts would unpack beyond the limit."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise LoadError(f"Word-dokument kan ikke læses (ikke en gyldig .docx): {exc}") from exc
    if unpacked > limit_bytes:
        raise LoadError(f"Word-dokumentet pakker ud til {unpacked / 1e6:.0f} MB, over grænsen på "
                        f"{limit_bytes / 1e6:.0f} MB (KB_MAX_UNPACKED_MB)")


def load_docx(path: Path) -> str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, ValueError, KeyError, OSError) as exc:
        raise LoadError(f"Word-dokument kan ikke læses: {exc}") from exc
    lines: list[str] = []
    for item in document.iter_inner_content():
        if hasattr(item, "rows"):
            lines.extend(_table_rows([[c.text for c in row.cells] for row in item.rows]))
            lines.append("")
            continue
        text = item.text.strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "").lower()
        level = _heading_level(style)
        if level:
            lines += ["", "#" * level + " " + text, ""]
        elif "list" in style or "liste" in style:
            lines.append("- " + text)
        else:
            lines += [text, ""]
    return "\n".join(lines)


def _heading_level(style: str) -> int:
    if style == "title" or style == "titel":
        return 1
    for prefix in ("heading ", "overskrift "):
        if style.startswith(prefix):
            digits = style[len(prefix):].strip()
            return min(int(digits), 6) if digits.isdigit() else 1
    return 0


def _table_rows(rows: list[list[str]]) -> list[str]:
    out = []
    for cells in rows:
        cleaned = [" ".join(c.split()) for c in cells]
        # Merged cells repeat their text in python-docx; keep each once.
        deduped = [c for i, c in enumerate(cleaned) if i == 0 or c != cleaned[i - 1]]
        out.append("| " + " | ".join(deduped) + " |")
    return out


def load_html(path: Path) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_read_text(path), "lxml")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "form", "aside"]):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    lines: list[str] = []
    for el in root.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "table", "pre"]):
        if el.find_parent(["table", "li"]) is not None and el.name != "li":
            continue
        if el.name == "table":
            rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])] for tr in el.find_all("tr")]
            lines.extend(_table_rows([r for r in rows if any(r)]))
            lines.append("")
            continue
        text = el.get_text(" ", strip=True)
        if not text:
            continue
        if el.name.startswith("h"):
            lines += ["", "#" * int(el.name[1]) + " " + text, ""]
        elif el.name == "li":
            lines.append("- " + text)
        else:
            lines += [text, ""]
    text = "\n".join(lines)
    if not text.strip():
        raise LoadError("HTML-siden indeholder ingen tekst")
    return text


LOADERS: dict[str, tuple[str, Callable[[Path], str]]] = {
    ".txt": ("txt", load_text),
    ".md": ("md", load_text),
    ".markdown": ("md", load_text),
    ".pdf": ("pdf", load_pdf),
    ".docx": ("docx", load_docx),
    ".html": ("html", load_html),
    ".htm": ("html", load_html),
}


def is_document(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in LOADERS and not path.name.endswith(SIDECAR_SUFFIX)


def check_size(path: Path, limits: IngestSettings) -> None:
    """Refuse a file over the size limits before anything reads it whole."""
    size = path.stat().st_size
    if size > limits.max_file_mb * 1e6:
        raise LoadError(f"filen er {size / 1e6:.0f} MB, over grænsen på {limits.max_file_mb:g} MB "
                        "(KB_MAX_FILE_MB); del den op eller hæv grænsen")
    if path.suffix.lower() == ".docx":
        _check_unpacked_size(path, int(limits.max_unpacked_mb * 1e6))


def load(path: Path, limits: IngestSettings | None = None) -> RawDocument:
    """Read one file; raises LoadError with a reason a user can act on."""
    limits = limits or IngestSettings()
    fmt, loader = LOADERS.get(path.suffix.lower(), (None, None))
    if loader is None:
        raise LoadError(f"ukendt filtype '{path.suffix}'")
    check_size(path, limits)
    try:
        text = loader(path)
    except LoadError:
        raise
    except Exception as exc:  # any parser failure on a broken file must not stop the batch
        raise LoadError(f"{type(exc).__name__}: {exc}") from exc
    if not text.strip():
        raise LoadError("filen er tom")
    return RawDocument(path=path, text=text, fmt=fmt)
