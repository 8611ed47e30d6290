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
        if filters.issuers:
            record["filters"]["issuers"] = list(filters.issuers)
    if answer.abstain_reason:
        record["abstain_reason"] = answer.abstain_reason
    if answer.error:
        record["error"] = answer.error
    if answer.newer:
        record["newer"] = [c.record() for c in answer.newer]
    if answer.generation is not None:
        record["generation"] = answer.generation.record()
    if question_id is None:
        del record["id"]
    return record


def case_note(answer: Answer, markdown: bool = False) -> str:
    """The answer as a caseworker pastes it into a journal note: the question, the answer, and each
    citation written out (title, type, date, section, the exact quote). Plain text by default."""
    english = answer.language == "en"
    labels = ("Question", "Answer", "Sources", "section", "undated") if english else \
        ("Spørgsmål", "Svar", "Kilder", "afsnit", "udateret")
    bold = (lambda s: f"**{s}**") if markdown else (lambda s: s)
    text = answer.text.replace("**", "") if not markdown else answer.text
    lines = [f"{bold(labels[0])}: {answer.question}", f"{bold(labels[1])}:", text]
    if answer.citations:
        lines += ["", f"{bold(labels[2])}:"]
        for c in [*answer.citations, *answer.newer]:
            facts = [c.doc_type, c.date or labels[4]] + ([f"{labels[3]}: {c.section}"] if c.section else [])
            lines.append(f"[{c.number}] {c.title} ({', '.join(facts)})")
            lines.append(f"    »{c.text}«")
    return "\n".join(lines)
