"""Incremental ingest: nothing is embedded twice, edits replace, deletions remove, broken files are skipped."""
from pathlib import Path

from typer.testing import CliRunner

from kb.service import KnowledgeBase
from kb.types import SearchFilter

from .conftest import make_settings, run_ingest


def _kb(tmp_path: Path, embeddings=None) -> KnowledgeBase:
    return KnowledgeBase(make_settings(tmp_path), embeddings=embeddings)


def _chunk_sources(kb: KnowledgeBase) -> dict[str, int]:
    counts: dict[str, int] = {}
    for chunk in kb.store.iter_chunks():
        counts[chunk.meta.source] = counts.get(chunk.meta.source, 0) + 1
    return counts


def test_second_ingest_embeds_nothing(tmp_path, corpus_copy, fake_embeddings):
    kb = _kb(tmp_path, fake_embeddings)
    first = run_ingest(kb)
    assert len(first.added) == 5 and first.embedded > 0
    second = run_ingest(kb)
    assert second.embedded == 0 and second.chunks_written == 0
    assert len(second.unchanged) == 5 and not second.changed


def test_a_new_ingest_format_rechunks_every_file_without_re_embedding(tmp_path, corpus_copy, monkeypatch, fake_embeddings):
    import ingest.pipeline

    kb = _kb(tmp_path, fake_embeddings)
    run_ingest(kb)
    monkeypatch.setattr(ingest.pipeline, "INGEST_FORMAT", ingest.pipeline.INGEST_FORMAT + "-next")
    report = run_ingest(kb)
    assert len(report.updated) == 5 and report.embedded == 0  # same text: every vector from the cache


def test_editing_a_document_re_embeds_only_its_changed_chunks(tmp_path, corpus_copy):
    kb = _kb(tmp_path)
    run_ingest(kb)
    before = _chunk_sources(kb)
    doc = corpus_copy / "000_89ee3ec64a4a8cd6.txt"
    doc.write_text(doc.read_text(encoding="utf-8") + "\n\nTilføjet afsnit om evaluering af indsatsen i 2026.\n",
                   encoding="utf-8")
    report = run_ingest(kb)
    assert report.updated == ["000_89ee3ec64a4a8cd6.txt"] and len(report.unchanged) == 4
    assert 0 < report.embedded <= 4  # the changed chunk and its new sentence, nothing else
    assert _chunk_sources(kb).keys() == before.keys()
    assert any("evaluering af indsatsen i 2026" in c.text for c in kb.store.iter_chunks())
    assert kb.ask("Hvornår evalueres indsatsen?").hits  # the lexical index follows the store


def test_deleting_a_document_removes_its_chunks(tmp_path, corpus_copy, fake_embeddings):
    kb = _kb(tmp_path, fake_embeddings)
    run_ingest(kb)
    (corpus_copy / "003_8a57807346003733.txt").unlink()
    report = run_ingest(kb)
    assert report.removed == ["003_8a57807346003733.txt"]
    assert "003_8a57807346003733.txt" not in _chunk_sources(kb)
    assert all(c.meta.source != "003_8a57807346003733.txt" for c in kb.lexical.iter_chunks())


def test_broken_files_are_reported_and_skipped(tmp_path, corpus_copy, fake_embeddings):
    (corpus_copy / "broken.pdf").write_bytes(b"%PDF-1.4\n%%garbage without objects\n")
    (corpus_copy / "picture.txt").write_bytes(bytes(range(256)) * 40)
    kb = _kb(tmp_path, fake_embeddings)
    report = run_ingest(kb)
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert set(failed) == {"broken.pdf", "picture.txt"}
    assert "binær" in failed["picture.txt"]
    assert len(report.added) == 5 and len(_chunk_sources(kb)) == 5


def test_a_bug_in_a_stage_surfaces_as_a_bug_not_as_a_bad_file(tmp_path, corpus_copy, monkeypatch, fake_embeddings):
    """Only expected file problems (BadFileError) are reported and skipped; a ValueError from the
    cleaner is a bug and stops the ingest with its traceback."""
    import pytest

    import ingest.pipeline

    def broken_clean(text):
        raise ValueError("a bug in the cleaner")

    monkeypatch.setattr(ingest.pipeline, "clean", broken_clean)
    with pytest.raises(ValueError, match="a bug in the cleaner"):
        run_ingest(_kb(tmp_path, fake_embeddings))


def test_every_product_error_is_a_user_facing_kb_error():
    from ingest.load import LoadError
    from kb import errors

    family = [LoadError, errors.BadFileError, errors.BadDateError, errors.ConfigError, errors.EmptyStoreError,
              errors.StoreBusyError, errors.StoreMismatchError]
    assert all(issubclass(e, errors.KBError) for e in family)
    assert "2025-13-45" in str(errors.BadDateError("2025-13-45")) and "cannot" in \
        errors.BadDateError("x").in_language("en")


def test_cli_ingest_reports_failures_in_summary_and_exit_status(tmp_path, corpus_copy, kb_env):
    from kb import cli

    (corpus_copy / "broken.pdf").write_bytes(b"not a pdf at all")
    kb_env(data_dir=tmp_path / "data", corpus_dir=corpus_copy)
    result = CliRunner().invoke(cli.app, ["ingest"])
    assert result.exit_code == 1
    assert "fejlede: 1" in result.output and "broken.pdf" in result.output
    again = CliRunner().invoke(cli.app, ["ingest"])
    assert "ingen embedding udført" in again.output or "embeddet: 0" in again.output


def _hold_lock_in_another_process(lock: Path):
    """A real second process holding the store's writer lock, as a running `kb ingest` does."""
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from filelock import FileLock; "
                               f"l = FileLock({str(lock)!r}); l.acquire(); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_questions_during_an_ingest_are_answered_from_the_current_generation(corpus_kb):
    holder = _hold_lock_in_another_process(corpus_kb.settings.ingest_lock_path)
    try:
        assert not corpus_kb.ask("Hvornår skal afrapporteringen sendes?").abstained
    finally:
        holder.kill()
        holder.wait()


def test_a_second_ingest_is_refused_while_one_runs(tmp_path, corpus_copy, fake_embeddings):
    import pytest

    from kb.errors import StoreBusyError

    kb = _kb(tmp_path, fake_embeddings)
    holder = _hold_lock_in_another_process(kb.settings.ingest_lock_path)
    try:
        with pytest.raises(StoreBusyError, match="kører allerede"):
            run_ingest(kb)
    finally:
        holder.kill()
        holder.wait()
    assert len(run_ingest(kb).added) == 5


def _encrypted_pdf(path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    from .test_load import _make_pdf

    _make_pdf(path.with_suffix(".plain.tmp"), ["Hemmelig vejledning om frister."])
    writer = PdfWriter(clone_from=PdfReader(path.with_suffix(".plain.tmp")))
    writer.encrypt("hemmelig", algorithm="RC4-128")
    writer.write(path)
    path.with_suffix(".plain.tmp").unlink()


def _zip_bomb_docx(path: Path, unpacked_mb: int) -> None:
    """A .docx-named zip whose one part unpacks to ``unpacked_mb`` of zeros (~0.1% of that on disk)."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("word/document.xml", "w", force_zip64=True) as part:
        block = b"\0" * (1 << 20)
        for _ in range(unpacked_mb):
            part.write(block)


def test_hostile_and_odd_files_are_reported_with_path_and_reason_and_nothing_is_lost(tmp_path, corpus_copy,
                                                                                    fake_embeddings):
    """Issue 15's bad-file matrix: each bad file is reported with its path and a reason, the readable
    ones are ingested, and a document already in the store survives the run untouched."""
    import os

    kb = _kb(tmp_path, fake_embeddings)
    run_ingest(kb)
    before = _chunk_sources(kb)
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    os.symlink(secret, corpus_copy / "outside.txt")
    (corpus_copy / "empty.txt").write_bytes(b"")
    (corpus_copy / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n%%EOF")
    _encrypted_pdf(corpus_copy / "locked.pdf")
    (corpus_copy / "binary.txt").write_bytes(os.urandom(4096))
    (corpus_copy / "huge.txt").write_bytes(("Linje om frister og afrapportering. " * 30 + "\n").encode() * 48_000)
    _zip_bomb_docx(corpus_copy / "bomb.docx", unpacked_mb=200)
    (corpus_copy / "latin1.txt").write_bytes("Døgnbehandling for gravide på Fyn.\n".encode("latin-1"))
    (corpus_copy / "bom.txt").write_bytes("\ufeffVejledning med byte order mark om tværfaglige møder.\n".encode())
    (corpus_copy / "Notat om æøå og mellemrum.txt").write_text("Notat om familieambulatoriets åbningstid.\n",
                                                                encoding="utf-8")
    assert (corpus_copy / "huge.txt").stat().st_size > 50_000_000

    report = run_ingest(kb)
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert set(failed) == {"outside.txt", "empty.txt", "corrupt.pdf", "locked.pdf", "binary.txt", "huge.txt",
                           "bomb.docx"}
    assert all(Path(p).is_absolute() for p, _ in report.failed)
    assert "uden for mappen" in failed["outside.txt"]
    assert "tom" in failed["empty.txt"]
    assert "PDF" in failed["corrupt.pdf"]
    assert "krypteret" in failed["locked.pdf"]
    assert "binær" in failed["binary.txt"] or "kontroltegn" in failed["binary.txt"]
    assert "MB" in failed["huge.txt"] and "KB_MAX_FILE_MB" in failed["huge.txt"]
    assert "pakker ud" in failed["bomb.docx"]
    assert sorted(report.added) == ["Notat om æøå og mellemrum.txt", "bom.txt", "latin1.txt"]
    after = _chunk_sources(kb)
    assert all(after[source] == count for source, count in before.items())  # nothing already stored is lost
    texts = [c.text for c in kb.store.iter_chunks()]
    assert not any("root:x:0:0" in t for t in texts)
    assert any("Døgnbehandling for gravide på Fyn" in t for t in texts)
    assert any(t.startswith("Vejledning med byte order mark") for t in texts)


def test_the_size_limit_is_a_setting(tmp_path, corpus_copy, fake_embeddings):
    (corpus_copy / "stor.txt").write_text("Et langt notat om tværfagligt samarbejde. " * 30_000, encoding="utf-8")
    report = run_ingest(KnowledgeBase(make_settings(tmp_path, max_file_mb=1), embeddings=fake_embeddings))
    assert [Path(p).name for p, _ in report.failed] == ["stor.txt"] and "1 MB" in report.failed[0][1]
    report = run_ingest(KnowledgeBase(make_settings(tmp_path, max_file_mb=2), embeddings=fake_embeddings))
    assert report.added == ["stor.txt"] and not report.failed


def test_a_folder_of_2000_small_files_is_ingested(tmp_path, fake_embeddings):
    folder = tmp_path / "corpus"
    for i in range(2000):
        sub = folder / f"mappe{i // 500}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"notat_{i:04d}.txt").write_text(f"Notat nummer {i} om samarbejde mellem kommune og region.\n",
                                                encoding="utf-8")
    kb = _kb(tmp_path, fake_embeddings)
    report = run_ingest(kb)
    assert len(report.added) == 2000 and not report.failed
    assert len(_chunk_sources(kb)) == 2000 and len(kb.lexical) == 2000
    again = run_ingest(kb)
    assert len(again.unchanged) == 2000 and not again.changed


def test_a_long_document_is_embedded_written_and_indexed_in_bounded_slices(tmp_path, fake_embeddings, monkeypatch):
    """Memory must not grow with a document's length: however many chunks a file has, the store
    and the lexical index get them in slices, with vectors as float32 arrays."""
    import numpy as np

    from evals.bench_memory import generate
    from kb.lexical import LexicalIndex
    from kb.store import VectorStore

    calls: list[tuple[int, str]] = []
    upsert, apply = VectorStore.upsert, LexicalIndex.apply

    def spy_upsert(self, chunks, vectors):
        calls.append((len(chunks), type(vectors).__name__ + str(getattr(vectors, "dtype", ""))))
        return upsert(self, chunks, vectors)

    def spy_apply(self, added, removed):
        calls.append((len(added), "lexical"))
        return apply(self, added, removed)

    monkeypatch.setattr(VectorStore, "upsert", spy_upsert)
    monkeypatch.setattr(LexicalIndex, "apply", spy_apply)
    generate(tmp_path / "corpus", 1.5)
    kb = KnowledgeBase(make_settings(tmp_path), embeddings=fake_embeddings)
    report = run_ingest(kb)
    assert report.chunks_written > 2000 and len(report.added) == 1
    assert {kind for _, kind in calls} == {"ndarrayfloat32", "lexical"}
    assert max(n for n, _ in calls) <= 512
    assert sum(n for n, kind in calls if kind != "lexical") == report.chunks_written == kb.store.count() == len(kb.lexical)
    texts = ["et afsnit", "et andet afsnit"]
    assert np.array_equal(kb.embeddings.embed_array(texts), np.asarray(kb.embeddings.embed_documents(texts), np.float32))


def test_an_index_of_an_older_format_is_rebuilt_into_a_new_generation(tmp_path, corpus_copy, fake_embeddings):
    """An upgrade that changes the lexical index's format: the next ingest rebuilds it, although no
    document changed, and keeps the result (not only the chat's in-memory copy)."""
    import shutil

    from kb.lexical import LexicalIndex

    kb = _kb(tmp_path, fake_embeddings)
    run_ingest(kb)
    first = kb.generation
    shutil.rmtree(first.lexical_dir)
    first.lexical_dir.mkdir()
    (first.lexical_dir / "chunks.json").write_text('{"chunks": []}', encoding="utf-8")  # the old format
    report = run_ingest(kb)
    assert not report.changed and report.index_rebuilt
    assert kb.generation.name != first.name and LexicalIndex.exists(kb.generation.lexical_dir)
    assert kb.lexical.ids() == kb.store.ids()
    assert not run_ingest(kb).index_rebuilt  # and only once


def test_a_changed_document_leaves_the_main_lexical_matrix_shared_with_the_previous_generation(
        tmp_path, corpus_copy, fake_embeddings):
    """A one-document change must not rewrite (or copy) the largest part of the lexical index: its
    rows go to the tail and its old rows are marked dead, and the new generation links to the matrix."""
    from kb.lexical import LexicalIndex

    kb = _kb(tmp_path, fake_embeddings)
    run_ingest(kb)
    first = kb.generation
    doc = corpus_copy / "000_89ee3ec64a4a8cd6.txt"
    doc.write_text(doc.read_text(encoding="utf-8") + "\n\nTilføjet afsnit om evaluering af indsatsen i 2026.\n",
                   encoding="utf-8")
    assert run_ingest(kb).updated == ["000_89ee3ec64a4a8cd6.txt"]
    second = kb.generation
    frozen = sorted(p.name for p in second.lexical_dir.glob("*.frozen.*"))
    assert frozen and frozen == sorted(p.name for p in first.lexical_dir.glob("*.frozen.*"))
    for name in frozen:
        assert (second.lexical_dir / name).stat().st_ino == (first.lexical_dir / name).stat().st_ino
    updated = LexicalIndex.load(second.lexical_dir)
    rebuilt = LexicalIndex.build(kb.store.iter_chunks())
    assert updated.ids() == rebuilt.ids() == kb.store.ids()
    for question in ("Hvornår evalueres indsatsen?", "Hvad er fristen for afrapportering?"):
        assert [(c.chunk_id, round(s, 4)) for c, s in updated.search(question, 10, SearchFilter())] == \
            [(c.chunk_id, round(s, 4)) for c, s in rebuilt.search(question, 10, SearchFilter())]
