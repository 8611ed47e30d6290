"""The eval harness: metrics on hand-made records, the CI gate on the real dev set, and a broken
retriever that the gate must catch."""
import json
import subprocess

import pytest

from evals.calibrate import calibrate
from evals.gate import FLOORS, check, is_wall_clock, load_floors, run_gate
from evals.metrics import evaluate
from kb.retrieve import HybridRetriever

from .conftest import ROOT


def _record(qid, texts, answer="", abstained=False, citations=()):
    return {"id": qid, "answer": answer, "abstained": abstained, "latency_ms": 10.0,
            "citations": [{"text": t} for t in citations],
            "retrieved": [{"text": t, "source": "s", "chunk_id": str(i), "score": 1.0} for i, t in enumerate(texts)]}


def test_metrics_from_raw_records():
    questions = [
        {"id": "a", "answerable": True, "evidence": ["senest den 31. maj"], "facts": [["31. maj"]]},
        {"id": "b", "answerable": True, "evidence": ["cirka 80 gravide"], "facts": [["80"]]},
        {"id": "u", "answerable": False, "evidence": [], "facts": []},
    ]
    records = [
        _record("a", ["x", "skal sendes senest  den 31. maj 2025"], "Senest den 31. maj 2025 [1]",
                citations=["skal sendes senest den 31. maj 2025"]),
        _record("b", ["y", "z"], abstained=True),
        _record("u", ["q"], "et svar", citations=["q"]),
    ]
    m = evaluate(questions, records).metrics
    assert m["recall@1"] == 0 and m["recall@5"] == 0.5 and m["mrr@10"] == pytest.approx(0.25)
    assert m["fact_accuracy"] == 0.5 and m["citation_support"] == 0.5
    assert m["false_abstention"] == 0.5 and m["correct_abstention"] == 0.0
    failures = evaluate(questions, records).failures
    assert failures["recall@5"] == ["b"] and failures["correct_abstention"] == ["u"]


def test_check_floors_and_ceilings():
    floors = {"recall@5": {"min": 0.9}, "false_abstention": {"max": 0.1}}
    assert check({"recall@5": 0.95, "false_abstention": 0.05}, floors) == []
    assert len(check({"recall@5": 0.5, "false_abstention": 0.5}, floors)) == 2


def test_gate_passes_on_the_default_configuration(corpus_kb):
    result = run_gate(corpus_kb.settings, FLOORS, kb=corpus_kb)
    assert result.passed, result.violations


def test_gate_fails_on_a_broken_retriever(corpus_kb, monkeypatch):
    original = HybridRetriever.retrieve

    def reversed_ranking(self, text, vector, k, flt=None):
        hits = original(self, text, vector, 50) if flt is None else original(self, text, vector, 50, flt)
        return list(reversed(hits))[:k]

    monkeypatch.setattr(HybridRetriever, "retrieve", reversed_ranking)
    result = run_gate(corpus_kb.settings, FLOORS, kb=corpus_kb)
    assert not result.passed
    assert any(v.startswith("recall@5") for v in result.violations)


def test_floors_are_only_ever_raised():
    """Compare evals/floors.json with its previous committed version."""
    try:
        shas = subprocess.run(["git", "log", "--format=%H", "-n", "2", "--", "evals/floors.json"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    if len(shas) < 2:
        pytest.skip("no earlier version of the floors")
    before = json.loads(subprocess.run(["git", "show", f"{shas[1]}:evals/floors.json"], cwd=ROOT,
                                       capture_output=True, text=True, check=True).stdout)
    now = load_floors()
    _only_raised(before["floors"], now["floors"], "")
    for kind, rules in before.get("kind_floors", {}).get("floors", {}).items():
        assert kind in now.get("kind_floors", {}).get("floors", {}), f"floors for {kind} questions were removed"
        _only_raised(rules, now["kind_floors"]["floors"][kind], f"{kind}: ")


def _only_raised(previous: dict, current: dict, label: str) -> None:
    for name, rule in previous.items():
        if is_wall_clock(name):
            continue  # taken out of the gate on purpose: a busy machine is not a quality regression
        assert name in current, f"{label}floor {name} was removed"
        if "min" in rule:
            assert current[name]["min"] >= rule["min"], f"{label}floor {name} was lowered"
        if "max" in rule:
            assert current[name]["max"] <= rule["max"], f"{label}ceiling {name} was raised"


def test_gate_has_no_wall_clock_floor(tmp_path):
    assert not any(is_wall_clock(name) for name in load_floors()["floors"])
    spec = load_floors()
    spec["floors"]["latency_p95_ms"] = {"max": 1000}
    bad = tmp_path / "floors.json"
    bad.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ValueError, match="wall-clock"):
        load_floors(bad)


def test_calibrate_picks_the_cheapest_threshold():
    questions = [{"id": "a", "answerable": True}, {"id": "b", "answerable": True}, {"id": "u", "answerable": False}]
    records = [{"id": "a", "confidence": 0.8}, {"id": "b", "confidence": 0.5}, {"id": "u", "confidence": 0.4}]
    best = calibrate(questions, records)[0]
    assert best == (0.5, 0, 0)
