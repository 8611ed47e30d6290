"""Run a question set through a knowledge base and produce contract records (see DESIGN.md)."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from kb.messages import msg
from kb.privacy import mask
from kb.records import answer_record
from kb.service import KnowledgeBase
from kb.text import detect_language
from kb.types import Answer

log = logging.getLogger(__name__)


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def run_questions(kb: KnowledgeBase, questions: list[dict]) -> list[dict]:
    """One record per question; earlier user turns in ``history`` are passed as the conversation.
    A question that fails still gets a record (abstained, with the error), so a run is never short."""
    records = []
    for row in questions:
        started = time.perf_counter()
        question = str(row.get("question", ""))
        try:
            answer = kb.ask(question, history=[str(h) for h in row.get("history") or []])
        except Exception as exc:  # noqa: BLE001 - recorded, and the run goes on
            log.exception("Question %s failed", row.get("id"))
            answer = Answer(question=mask(question), text=msg("internal_error", detect_language(question)),
                            abstained=True, citations=[], hits=[], error=f"{type(exc).__name__}: {exc}")
        records.append(answer_record(answer, row.get("id"), (time.perf_counter() - started) * 1000))
    return records
