"""Run a question set through a knowledge base and produce contract records (see DESIGN.md)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from kb.records import answer_record
from kb.service import KnowledgeBase


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def run_questions(kb: KnowledgeBase, questions: list[dict]) -> list[dict]:
    """One record per question; earlier user turns in ``history`` are passed as the conversation."""
    records = []
    for row in questions:
        started = time.perf_counter()
        answer = kb.ask(str(row.get("question", "")), history=[str(h) for h in row.get("history") or []])
        records.append(answer_record(answer, row.get("id"), (time.perf_counter() - started) * 1000))
    return records
