"""Shared fixtures: a knowledge base over the bundled corpus, ingested once per test session."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.pipeline import IngestReport
from kb.config import Settings
from kb.service import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"


def make_settings(tmp: Path, **overrides) -> Settings:
    return Settings(data_dir=tmp / "data", corpus_dir=tmp / "corpus", **overrides)


def run_ingest(kb: KnowledgeBase, paths: list[Path] | None = None) -> IngestReport:
    return kb.ingest(paths)


@pytest.fixture(scope="session")
def corpus_kb(tmp_path_factory) -> KnowledgeBase:
    """The real corpus, ingested with the default settings into a temporary store."""
    tmp = tmp_path_factory.mktemp("corpus_kb")
    shutil.copytree(CORPUS, tmp / "corpus")
    kb = KnowledgeBase(make_settings(tmp))
    report = run_ingest(kb)
    assert not report.failed, report.failed
    return kb


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return tmp_path / "corpus"
