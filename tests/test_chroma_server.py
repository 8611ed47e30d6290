"""The Chroma server path, for real: `chroma run` on a free loopback port, started by the test. Each
generation is a collection on the server (copied through the API), old ones are dropped, and
questions are answered from it exactly as from the embedded store."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from evals.load import free_port
from kb.service import KnowledgeBase

from .conftest import CORPUS, make_settings

KB = Path(sys.executable).with_name("kb")


class ChromaServer:
    """`kb store serve` on a loopback port, started and stopped (by its PID) like an operator would."""

    def __init__(self, path: Path, log: Path) -> None:
        self.path, self.log, self.port = path, log, free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen([str(KB), "store", "serve", "--path", str(self.path), "--port", str(self.port)],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=2)
                return
            except OSError:
                assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text()
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


@pytest.fixture
def chroma_server(tmp_path):
    server = ChromaServer(tmp_path / "server-data", tmp_path / "chroma.log")
    server.start()
    yield server
    server.stop()


def _collections(kb: KnowledgeBase) -> set[str]:
    return {getattr(c, "name", c) for c in kb.store._client.list_collections()}


def test_generations_live_as_collections_on_a_chroma_server(tmp_path, chroma_server, fake_embeddings):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = make_settings(tmp_path, chroma_host="127.0.0.1", chroma_port=chroma_server.port)
    kb = KnowledgeBase(settings, embeddings=fake_embeddings)
    assert len(kb.ingest().added) == 5
    assert kb.store.location.startswith(f"chroma://127.0.0.1:{chroma_server.port}/guidance_chunks-g000001")
    assert kb.check().ok and kb.store.count() == kb.check().manifest_chunks
    assert kb.ask("Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?").hits

    doc = tmp_path / "corpus" / "000_89ee3ec64a4a8cd6.txt"
    for n in (1, 2):  # two more generations: each copies the current collection, then changes one document
        doc.write_text(doc.read_text(encoding="utf-8") + f"\n\nTilføjet afsnit nummer {n} om opfølgning.\n",
                       encoding="utf-8")
        report = kb.ingest()
        assert report.updated == ["000_89ee3ec64a4a8cd6.txt"] and len(report.unchanged) == 4
    assert kb.generation.name == "g000003" and kb.check().ok
    assert {"guidance_chunks-g000002", "guidance_chunks-g000003"} <= _collections(kb)
    assert "guidance_chunks-g000001" not in _collections(kb)  # the one before the previous is dropped
    assert any("Tilføjet afsnit nummer 2" in c.text for c in kb.store.iter_chunks())
    assert {c.meta.source for c in kb.store.iter_chunks()} == {p.name for p in (tmp_path / "corpus").glob("*.txt")}
    assert not kb.ingest().changed and kb.generation.name == "g000003"  # nothing to do: no new collection


def test_the_server_keeps_the_knowledge_base_across_a_restart(tmp_path, chroma_server, fake_embeddings):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = make_settings(tmp_path, chroma_host="127.0.0.1", chroma_port=chroma_server.port)
    question = "Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?"
    kb = KnowledgeBase(settings, embeddings=fake_embeddings)
    kb.ingest()
    before = kb.ask(question)
    count = kb.store.count()
    assert count > 0 and before.hits

    chroma_server.stop()
    assert chroma_server.proc.returncode is not None  # stopped by its PID: `kb store serve` became the server
    chroma_server.start()
    again = KnowledgeBase(settings, embeddings=fake_embeddings)  # a new process would start like this
    assert again.store.count() == count and again.check().ok
    after = again.ask(question)
    assert (after.text, [c.chunk_id for c in after.citations]) == (before.text, [c.chunk_id for c in before.citations])


def test_replicas_sharing_the_data_folder_follow_an_ingest_on_the_server(tmp_path, chroma_server, fake_embeddings):
    """Two app replicas and one ingest job: the vectors are on the server (a collection per generation),
    the lexical index and the pointer file in the shared data folder. A replica switches on its next
    question to the generation the ingest made current, lexical index and collection together."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = make_settings(tmp_path, chroma_host="127.0.0.1", chroma_port=chroma_server.port)
    writer = KnowledgeBase(settings, embeddings=fake_embeddings)
    writer.ingest()
    replicas = [KnowledgeBase(settings, embeddings=fake_embeddings) for _ in range(2)]
    question = "Hvordan evalueres indsatsen for gravide lokalt i kommunens familieafdeling?"
    before = [r.ask(question) for r in replicas]
    assert {r.generation.name for r in replicas} == {"g000001"}

    doc = tmp_path / "corpus" / "000_89ee3ec64a4a8cd6.txt"
    added = "Indsatsen for gravide evalueres lokalt hvert andet år af kommunens familieafdeling."
    doc.write_text(doc.read_text(encoding="utf-8") + f"\n\nLokal evaluering\n\n{added}\n", encoding="utf-8")
    assert writer.ingest().updated == [doc.name]
    after = [r.ask(question) for r in replicas]
    assert {r.generation.name for r in replicas} == {"g000002"}
    for replica, answer in zip(replicas, after, strict=True):
        assert replica.store.location.endswith("guidance_chunks-g000002")
        assert any(added in h.chunk.text for h in answer.hits)
        assert replica.lexical.ids() == replica.store.ids()
    assert all(not any(added in h.chunk.text for h in a.hits) for a in before)
