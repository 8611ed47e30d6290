"""Choose the abstention threshold from eval records: the confidence cut that costs least when a
wrong answer to an unanswerable question counts ``wrong_cost`` times a needless abstention."""
from __future__ import annotations


def calibrate(questions: list[dict], records: list[dict], wrong_cost: float = 2.0) -> list[tuple[float, int, int]]:
    """(threshold, false abstentions, wrong answers) for every useful cut, best first."""
    answerable = {q["id"]: bool(q.get("answerable", True)) for q in questions}
    points = [(r["confidence"], answerable[r["id"]]) for r in records if r.get("id") in answerable and not r.get("error")]
    cuts = sorted({round(c, 3) for c, _ in points})
    table = []
    for cut in cuts:
        false_abst = sum(1 for c, a in points if a and c < cut)
        wrong = sum(1 for c, a in points if not a and c >= cut)
        table.append((cut, false_abst, wrong))
    return sorted(table, key=lambda t: (t[1] + wrong_cost * t[2], -t[0]))
