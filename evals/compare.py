"""Named configurations side by side: retrieval modes, chunk sizes, (later) rerankers and LLMs.

Each configuration gets its own store when it changes how documents are chunked; all share one
embedding cache, so only text never seen before is embedded. The report is written as Markdown
with a PNG chart, plus the JSON it was made from.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kb.config import Settings
from kb.service import KnowledgeBase

from .metrics import evaluate, evaluate_groups
from .runner import run_questions, write_jsonl

CHART_METRICS = ("recall@1", "recall@5", "mrr@10", "ndcg@10", "fact_accuracy", "citation_support",
                 "correct_abstention")
TABLE_METRICS = CHART_METRICS + ("citation_precision", "false_abstention", "latency_p50_ms", "latency_p95_ms",
                                 "answer_chars_median", "llm_asked", "validation_failure_rate", "llm_unavailable",
                                 "tokens_per_answer")
KIND_METRICS = ("mrr@10", "fact_accuracy")  # per kind of question: does a configuration lose anywhere?


@dataclass
class Config:
    name: str
    mode: str = "hybrid"
    overrides: dict = field(default_factory=dict)  # Settings fields, e.g. {"chunk_size": 500}


def default_configs(settings: Settings) -> list[Config]:
    configs = [Config("bm25", "bm25"), Config("dense", "dense"), Config("hybrid", "hybrid"),
               Config("hybrid, rrf", "hybrid", {"fusion": "rrf"})]
    if settings.retrieval.reranker_model:
        configs.append(Config("hybrid+rerank", "hybrid", {"reranker_model": settings.retrieval.reranker_model}))
    return configs


def llm_configs(model: str) -> list[Config]:
    """The quoted answers and the configured chat model's, on the same retrieval."""
    return [Config("extractive", "hybrid", {"llm_provider": "none"}), Config(f"LLM ({model})", "hybrid")]


def dense_weight_configs(weights: list[float]) -> list[Config]:
    return [Config(f"hybrid, dense weight {w:g}", "hybrid", {"dense_weight": w}) for w in weights]


def chunk_size_configs(sizes: list[int]) -> list[Config]:
    return [Config(f"hybrid, chunks {n}", "hybrid", {"chunk_size": n, "chunk_min_size": min(200, n // 3)})
            for n in sizes]


def _knowledge_base(base: Settings, config: Config) -> KnowledgeBase:
    if not any(k in config.overrides for k in ("chunk_size", "chunk_min_size")):
        settings = base.override(reranker_model="", **config.overrides)
        return KnowledgeBase(settings, mode=config.mode)  # type: ignore[arg-type]
    tag = "-".join(f"{k}{v}" for k, v in sorted(config.overrides.items()))
    store_dir = base.data_dir / "eval-stores" / tag
    shutil.rmtree(store_dir, ignore_errors=True)  # derived data; the shared embedding cache keeps rebuilding cheap
    settings = base.override(**config.overrides, data_dir=store_dir, embedding_cache=base.embedding_cache_path)
    kb = KnowledgeBase(settings, mode=config.mode)  # type: ignore[arg-type]
    kb.ingest()
    return kb


def compare(base: Settings, configs: list[Config], questions: list[dict], out_dir: Path, name: str) -> dict:
    results = {}
    for config in configs:
        kb = _knowledge_base(base, config)
        records = run_questions(kb, questions)
        write_jsonl(out_dir / f"{name}.{_slug(config.name)}.records.jsonl", records)
        report = evaluate(questions, records)
        kinds = {kind: rep.metrics for kind, rep in evaluate_groups(questions, records, "kind").items()}
        results[config.name] = {"config": asdict(config), "metrics": report.metrics, "failures": report.failures,
                                "kinds": kinds}
    payload = {"name": name, "questions": len(questions), "results": results}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    _chart(results, out_dir / f"{name}.png", name)
    (out_dir / f"{name}.md").write_text(render_markdown(payload), encoding="utf-8")
    return payload


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_")


def render_markdown(payload: dict) -> str:
    names = list(payload["results"])
    lines = [f"# Eval report: {payload['name']}", "",
             f"{payload['questions']} questions. Regenerate with the `kb eval compare` command that wrote it.", "",
             "| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for metric in TABLE_METRICS:
        cells = []
        for n in names:
            value = payload["results"][n]["metrics"].get(metric)
            whole = metric.endswith(("_ms", "median", "per_answer"))
            cells.append("" if value is None or value != value else (f"{value:.0f}" if whole else f"{value:.3f}"))
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    lines += ["", f"![chart]({payload['name']}.png)", ""]
    for metric in KIND_METRICS:
        lines += _kind_table(payload, metric)
    lines += ["## Failing questions", ""]
    for n in names:
        failures = {k: v for k, v in payload["results"][n]["failures"].items() if v}
        lines.append(f"**{n}**: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in failures.items()))
        lines.append("")
    return "\n".join(lines)


def _kind_table(payload: dict, metric: str) -> list[str]:
    names = list(payload["results"])
    kinds = sorted({k for n in names for k in payload["results"][n].get("kinds", {})})
    rows = []
    for kind in kinds:
        cells = [payload["results"][n].get("kinds", {}).get(kind, {}).get(metric) for n in names]
        if all(c is None or c != c for c in cells):  # NaN: no such question in this kind
            continue
        count = next(payload["results"][n]["kinds"][kind].get("questions", 0) for n in names)
        rows.append(f"| {kind} ({count:.0f}) | " + " | ".join("" if c is None or c != c else f"{c:.3f}" for c in cells)
                    + " |")
    if not rows:
        return []
    return [f"## {metric} per kind of question", "", "| kind (n) | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names), *rows, ""]


def _chart(results: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for i, n in enumerate(names):
        values = [results[n]["metrics"].get(m, 0.0) for m in CHART_METRICS]
        ax.bar([x + i * width for x in range(len(CHART_METRICS))], values, width, label=n)
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(CHART_METRICS))], CHART_METRICS,
                  rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
