"""Practitioners' 👍/👎 on answers, with an optional comment, kept in SQLite for the team to review.

Everything is masked for personal data before it is written (``kb.privacy``)."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

from .privacy import mask

COLUMNS = ("id", "created_at", "rating", "question", "answer", "citations", "settings", "comment")


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute("""CREATE TABLE IF NOT EXISTS feedback (
                id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, rating INTEGER NOT NULL,
                question TEXT NOT NULL, answer TEXT NOT NULL, citations TEXT NOT NULL, settings TEXT NOT NULL,
                comment TEXT NOT NULL DEFAULT '')""")

    def add(self, rating: int, question: str, answer: str, citations: list[dict], settings: dict,
            comment: str = "") -> int:
        if rating not in (-1, 1):
            raise ValueError("rating must be 1 (👍) or -1 (👎)")
        cited = [{**c, "text": mask(c.get("text", ""))} for c in citations]
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO feedback (created_at, rating, question, answer, citations, settings, comment) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (datetime.now(timezone.utc).isoformat(timespec="seconds"), rating, mask(question), mask(answer),
                 json.dumps(cited, ensure_ascii=False), json.dumps(settings, ensure_ascii=False), mask(comment)))
            return int(cur.lastrowid)

    def comment(self, feedback_id: int, text: str) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE feedback SET comment = ? WHERE id = ?", (mask(text), feedback_id))

    def rows(self) -> list[dict]:
        with self._lock:
            cur = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id")
            return [dict(zip(COLUMNS, row, strict=True)) for row in cur.fetchall()]

    def export(self, fmt: str) -> str:
        """JSONL exactly as stored; CSV with cells that a spreadsheet would run as a formula made inert."""
        rows = self.rows()
        if fmt == "jsonl":
            return "".join(json.dumps({**r, "citations": json.loads(r["citations"]),
                                       "settings": json.loads(r["settings"])}, ensure_ascii=False) + "\n"
                           for r in rows)
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows({k: _inert(v) for k, v in r.items()} for r in rows)
            return out.getvalue()
        raise ValueError(f"ukendt format {fmt!r}; brug csv eller jsonl")


def _inert(value):
    """OWASP's rule against CSV injection: a cell starting with =, +, -, @, tab or carriage return
    gets a leading apostrophe, so a comment like '=HYPERLINK(…)' is shown, never run."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
