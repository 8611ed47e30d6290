"""Metrics computed from raw per-question eval records and the question set (pure functions).

A retrieved chunk is relevant when it contains one of the question's evidence strings (compared
case- and whitespace-insensitively), so the metrics need no chunk ids and survive re-chunking.
"""
from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def relevant(chunk_text: str, evidence: list[str]) -> bool:
    t = norm(chunk_text)
    return any(norm(e) in t for e in evidence)


def first_relevant_rank(record: dict, evidence: list[str], k: int) -> int | None:
    for rank, item in enumerate(record.get("retrieved", [])[:k], start=1):
        if relevant(item.get("text", ""), evidence):
            return rank
    return None


def ndcg(record: dict, evidence: list[str], k: int = 10) -> float:
    gains = [1.0 if relevant(x.get("text", ""), evidence) else 0.0 for x in record.get("retrieved", [])[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(gains, reverse=True)
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def supports(citation_text: str, evidence: list[str]) -> bool:
    """A citation supports the answer when it holds an evidence string or lies inside one."""
    c = norm(citation_text)
    return bool(c) and any(norm(e) in c or c in norm(e) for e in evidence)


def facts_present(answer: str, facts: list[list[str]]) -> bool:
    a = norm(answer)
    return all(any(norm(alt) in a for alt in fact) for fact in facts)


@dataclass
class Report:
    metrics: dict[str, float] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)


def evaluate(questions: list[dict], records: list[dict]) -> Report:
    by_id = {r.get("id"): r for r in records}
    answerable = [q for q in questions if q.get("answerable", True) and q.get("evidence")]
    unanswerable = [q for q in questions if not q.get("answerable", True)]
    rep = Report()
    fails = rep.failures

    def share(items: list[str], pool: list[dict], name: str) -> float:
        fails[name] = [q["id"] for q in pool if q["id"] not in items]
        return len(items) / len(pool) if pool else float("nan")

    r1, r5, rr, nd, fact_ok, support_ok, answered = [], [], [], [], [], [], []
    cited, cited_supporting = 0, 0
    for q in answerable:
        rec = by_id.get(q["id"], {})
        rank = first_relevant_rank(rec, q["evidence"], 10)
        if rank == 1:
            r1.append(q["id"])
        if rank is not None and rank <= 5:
            r5.append(q["id"])
        rr.append(1.0 / rank if rank else 0.0)
        nd.append(ndcg(rec, q["evidence"]))
        if not rec.get("abstained", True):
            answered.append(q["id"])
            if facts_present(rec.get("answer", ""), q.get("facts") or []):
                fact_ok.append(q["id"])
        citations = rec.get("citations") or []
        if any(supports(c.get("text", ""), q["evidence"]) for c in citations):
            support_ok.append(q["id"])
        for c in citations:
            cited += 1
            cited_supporting += supports(c.get("text", ""), q["evidence"])
    m = rep.metrics
    m["recall@1"] = share(r1, answerable, "recall@1")
    m["recall@5"] = share(r5, answerable, "recall@5")
    m["mrr@10"] = sum(rr) / len(rr) if rr else float("nan")
    m["ndcg@10"] = sum(nd) / len(nd) if nd else float("nan")
    m["fact_accuracy"] = share(fact_ok, answerable, "fact_accuracy")
    m["citation_support"] = share(support_ok, answerable, "citation_support")
    m["citation_precision"] = cited_supporting / cited if cited else float("nan")
    m["false_abstention"] = 1 - share(answered, answerable, "false_abstention")
    fails["false_abstention"] = [q["id"] for q in answerable if q["id"] not in answered]
    correct_abstain = [q["id"] for q in unanswerable if by_id.get(q["id"], {}).get("abstained")]
    m["correct_abstention"] = share(correct_abstain, unanswerable, "correct_abstention")
    latencies = sorted(r.get("latency_ms", 0.0) for r in records)
    if latencies:
        m["latency_p50_ms"] = statistics.median(latencies)
        m["latency_p95_ms"] = latencies[min(len(latencies) - 1, math.ceil(0.95 * len(latencies)) - 1)]
    lengths = [len(r.get("answer", "")) for r in records if not r.get("abstained")]
    m["answer_chars_median"] = statistics.median(lengths) if lengths else 0.0
    ordered = [q for q in questions if q.get("order")]
    if ordered:  # timelines: the dated steps must come in this order
        m["order_accuracy"] = share([q["id"] for q in ordered if in_order(by_id.get(q["id"], {}).get("answer", ""),
                                                                          q["order"])], ordered, "order_accuracy")
    m["questions"] = len(questions)
    m.update(generation_metrics(records))
    return rep


def in_order(answer: str, steps: list[str]) -> bool:
    """Whether every step occurs in the answer, each after the one before it."""
    at, text = 0, answer.lower()
    for step in steps:
        found = text.find(step.lower(), at)
        if found < 0:
            return False
        at = found + len(step)
    return True


def generation_metrics(records: list[dict]) -> dict[str, float]:
    """For runs through a chat model (records with ``generation``): how often it was asked, how often
    its answer failed validation (sentences dropped, or replaced by the quotes), how often the
    endpoint failed, and the tokens an asked answer cost."""
    runs = [r["generation"] for r in records if r.get("generation")]
    asked = [g for g in runs if g.get("status") != "not_asked"]
    if not runs:
        return {}
    share = (lambda n: n / len(asked)) if asked else (lambda n: float("nan"))
    tokens = [g.get("tokens_in", 0) + g.get("tokens_out", 0) for g in asked if g.get("status") != "unavailable"]
    return {"llm_asked": len(asked) / len(runs),
            "validation_failure_rate": share(sum(g.get("status") in ("repaired", "fallback") for g in asked)),
            "llm_unavailable": share(sum(g.get("status") == "unavailable" for g in asked)),
            "tokens_per_answer": statistics.fmean(tokens) if tokens else float("nan")}


# Metrics that say something for a group of a few questions; latency and counts stay overall.
GROUP_METRICS = ("recall@1", "recall@5", "mrr@10", "fact_accuracy", "citation_support", "citation_precision",
                 "false_abstention", "correct_abstention", "answer_chars_median")


def group_of(question: dict, record: dict, by: str) -> str:
    """A question's group: its own field (``kind``, or ``intent`` when the set names one), else what
    the answerer recorded (the intent it classified), else 'other'."""
    return str(question.get(by) or record.get(by) or "other")


def evaluate_groups(questions: list[dict], records: list[dict], by: str = "kind") -> dict[str, Report]:
    """The same metrics per group of questions, e.g. per kind or per intent."""
    by_id = {r.get("id"): r for r in records}
    groups: dict[str, list[dict]] = {}
    for q in questions:
        groups.setdefault(group_of(q, by_id.get(q["id"], {}), by), []).append(q)
    reports = {}
    for name, members in sorted(groups.items()):
        ids = {q["id"] for q in members}
        reports[name] = evaluate(members, [r for r in records if r.get("id") in ids])
    return reports
