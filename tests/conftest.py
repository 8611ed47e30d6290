"""Shared fixtures: a knowledge base over the bundled corpus, ingested once per test session."""
from __future__ import annotations

import contextlib
import shutil
import socket
from pathlib import Path

import pytest

from ingest.pipeline import IngestReport
from kb.config import Settings
from kb.embeddings import CachedEmbeddings
from kb.service import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"


def make_settings(tmp: Path, **overrides) -> Settings:
    return Settings(data_dir=tmp / "data", corpus_dir=tmp / "corpus").override(**overrides)


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
def kb_env(monkeypatch):
    """Point the CLI's settings at test folders: ``kb_env(data_dir=…, corpus_dir=…)`` sets the KB_*
    variables; the cached settings are cleared then and after the test, so none leaks into another."""
    from kb.config import get_settings

    def point(**values) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"KB_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield point
    get_settings.cache_clear()


@pytest.fixture
def fake_embeddings(tmp_path) -> CachedEmbeddings:
    """LangChain's deterministic fake embedder behind the real cache: for tests of ingest and storage
    that do not measure what the model finds (those use the packaged model through ``corpus_kb``)."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    return CachedEmbeddings(DeterministicFakeEmbedding(size=384), tmp_path / "fake-embedding-cache.sqlite")


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return tmp_path / "corpus"


class NetworkBlocked(RuntimeError):
    pass


@contextlib.contextmanager
def network_blocked():
    """Every socket connection and name lookup fails while inside; yields the list of attempts."""
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise NetworkBlocked(f"network access attempted: {args!r}")

    saved = (socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo)
    socket.socket.connect = socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = socket.getaddrinfo = refuse  # type: ignore[assignment]
    try:
        yield attempts
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo = saved
