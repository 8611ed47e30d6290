"""The Chroma server path, for real: `chroma run` on a free loopback port, started by the test. Each
generation is a collection on the server (copied through the API), old ones are dropped, and
questions are answered from it exactly as from the embedded store."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from evals.load import free_port
from kb.service import KnowledgeBase

from .conftest import CORPUS, make_settings

CHROMA = Path(sys.executable).with_name("chroma")


@pytest.fixture
def chroma_server(tmp_path):
    if not CHROMA.exists():
        pytest.fail("the chroma CLI comes with the chromadb package; it is missing from this environment")
    port = free_port()
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2)
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "chroma.log").read_text()
            time.sleep(0.3)
    yield port
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def _collections(kb: KnowledgeBase) -> set[str]:
    return {getattr(c, "name", c) for c in kb.store._client.list_collections()}


def test_generations_live_as_collections_on_a_chroma_server(tmp_path, chroma_server, fake_embeddings):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = make_settings(tmp_path, chroma_host="127.0.0.1", chroma_port=chroma_server)
    kb = KnowledgeBase(settings, embeddings=fake_embeddings)
    assert len(kb.ingest().added) == 5
    assert kb.store.location.startswith(f"chroma://127.0.0.1:{chroma_server}/guidance_chunks-g000001")
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
