"""The eval/JSON record contract (see DESIGN.md): one object per question, stable field names."""
from __future__ import annotations

from .types import Answer, SearchFilter


def answer_record(answer: Answer, question_id: str | None, latency_ms: float,
                  filters: SearchFilter | None = None) -> dict:
    record = {
        "id": question_id,
        "question": answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [c.record() for c in answer.citations],
        "retrieved": [{"source": h.chunk.meta.source, "chunk_id": h.chunk.chunk_id, "text": h.chunk.text,
                       "score": round(h.score, 6), "title": h.chunk.meta.title, "section": h.chunk.section,
                       "scores": {k: round(float(v), 6) for k, v in h.scores.items()}} for h in answer.hits],
        "latency_ms": round(latency_ms, 1),
        "confidence": round(answer.confidence, 4),
        "signals": {k: round(float(v), 4) for k, v in answer.signals.items()},
        "language": answer.language,
        "retrieval_query": answer.retrieval_query,
        "intent": answer.intent,
        "follow_up": answer.follow_up,
    }
    if filters is not None:  # the filters that were applied, as ISO bounds
        record["filters"] = {"doc_types": list(filters.doc_types), "date_from": filters.date_from,
                             "date_to": filters.date_to}
    if answer.abstain_reason:
        record["abstain_reason"] = answer.abstain_reason
    if answer.error:
        record["error"] = answer.error
    if question_id is None:
        del record["id"]
    return record
