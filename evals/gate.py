"""The CI quality gate: run the dev set on the default configuration and compare with the floors.

Floors live in ``evals/floors.json``, each set a little below a real measured run whose value is
written beside it. They may only be raised: ``check_floors_only_rise`` (a test) compares the file
with its version in git.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kb.config import Settings
from kb.service import KnowledgeBase

from .metrics import evaluate, evaluate_groups
from .runner import read_jsonl, run_questions

FLOORS = Path(__file__).resolve().parent / "floors.json"


@dataclass
class GateResult:
    metrics: dict[str, float]
    violations: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations


def is_wall_clock(metric: str) -> bool:
    """Latency depends on what else the machine runs (a CI run failed at 1,070 ms on a busy machine,
    30 ms idle), so it is reported and benchmarked, never gated."""
    return metric.startswith("latency") or metric.endswith("_ms")


def load_floors(path: Path = FLOORS) -> dict:
    spec = json.loads(path.read_text(encoding="utf-8"))
    names = list(spec["floors"]) + [m for rules in spec.get("kind_floors", {}).get("floors", {}).values() for m in rules]
    timed = [name for name in names if is_wall_clock(name)]
    if timed:
        raise ValueError(f"{path}: wall-clock figures are not quality floors: {', '.join(timed)}")
    return spec


def check(metrics: dict[str, float], floors: dict[str, dict]) -> list[str]:
    """Each floor is {"min": x} (higher is better) or {"max": x} (lower is better)."""
    violations = []
    for name, rule in floors.items():
        value = metrics.get(name)
        if value is None:
            violations.append(f"{name}: not measured")
        elif "min" in rule and value < rule["min"]:
            violations.append(f"{name} = {value:.3f} is below its floor {rule['min']:.3f}")
        elif "max" in rule and value > rule["max"]:
            violations.append(f"{name} = {value:.3f} is above its ceiling {rule['max']:.3f}")
    return violations


def check_kinds(kb: KnowledgeBase, root: Path, spec: dict) -> list[str]:
    """Floors per kind of question (follow-ups, unanswerable, …) on the dev sets, so that a change
    that helps single questions but breaks conversations is caught."""
    questions = [row for name in spec["questions"] for row in read_jsonl(root / name)]
    groups = evaluate_groups(questions, run_questions(kb, questions), "kind")
    violations = []
    for kind, floors in spec["floors"].items():
        if kind not in groups:
            violations.append(f"{kind}: no questions of this kind")
            continue
        violations += [f"{kind}: {v}" for v in check(groups[kind].metrics, floors)]
    return violations


def run_gate(settings: Settings, floors_path: Path = FLOORS, kb: KnowledgeBase | None = None) -> GateResult:
    """Ingest the corpus into a temporary store (unless a knowledge base is given) and gate on the dev set."""
    spec = load_floors(floors_path)
    questions = read_jsonl(floors_path.parent.parent / spec["questions"])
    tmp = None
    if kb is None:
        tmp = Path(tempfile.mkdtemp(prefix="kb-gate-"))
        kb = KnowledgeBase(settings.override(data_dir=tmp, embedding_cache=settings.embedding_cache_path))
        kb.ingest([settings.corpus_dir])
    try:
        metrics = evaluate(questions, run_questions(kb, questions)).metrics
        violations = check(metrics, spec["floors"])
        if kinds := spec.get("kind_floors"):
            violations += check_kinds(kb, floors_path.parent.parent, kinds)
        return GateResult(metrics, violations)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
