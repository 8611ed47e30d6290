import pytest

from kb.lexical import LexicalIndex
from kb.query import SpellingRepair
from kb.types import Chunk, DocumentMeta, SearchFilter


def _chunk(i, text, doc_type="anmodning", date="2024-05"):
    meta = DocumentMeta(doc_id=f"d{i}", source=f"d{i}.txt", title=f"Dokument {i}", doc_type=doc_type, date=date)
    return Chunk(chunk_id=f"d{i}#0", meta=meta, text=text, section="", start=0, end=len(text), index=0)


CHUNKS = [
    _chunk(1, "Døgnbehandlingstilbud til udsatte gravide med skadeligt rusmiddelbrug."),
    _chunk(2, "Afrapporteringen skal sendes senest den 31. maj 2025.", doc_type="sagsfremstilling", date="2025-05-15"),
    _chunk(3, "Forløbsbeskrivelsen anbefaler samarbejde med familieambulatorierne.", doc_type="forløbsbeskrivelse",
           date="2022"),
]


def test_bm25_matches_inflections_and_folded_spellings(tmp_path):
    index = LexicalIndex.build(CHUNKS)
    assert index.search("afrapportering", 3, SearchFilter())[0][0].chunk_id == "d2#0"
    assert index.search("doegnbehandlingstilbuddet", 3, SearchFilter())[0][0].chunk_id == "d1#0"
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert [c.chunk_id for c, _ in loaded.search("familieambulatorier", 3, SearchFilter())] == ["d3#0"]


def test_bm25_applies_metadata_filters():
    index = LexicalIndex.build(CHUNKS)
    assert index.search("afrapporteringen sendes", 3, SearchFilter(doc_types=("anmodning",))) == []
    hits = index.search("gravide samarbejde afrapporteringen", 3, SearchFilter(date_from="2023"))
    assert {c.chunk_id for c, _ in hits} == {"d1#0", "d2#0"}
    hits = index.search("gravide samarbejde afrapporteringen", 3, SearchFilter(date_to="2022"))
    assert [c.chunk_id for c, _ in hits] == ["d3#0"]


def test_spelling_repair_uses_only_the_corpus_vocabulary():
    repair = SpellingRepair(LexicalIndex.build(CHUNKS))
    assert repair.repair("doegnbehandlingstilbud til gravide") == "døgnbehandlingstilbud til gravide"
    assert repair.repair("rusmidelbrug") == "rusmiddelbrug"
    assert repair.repair("afrapporteringerne") == "afrapporteringerne"  # an inflection, not a typo
    assert repair.repair("Hvad koster det?") == "Hvad koster det?"


def test_english_domain_words_and_their_inflections_map_to_danish():
    from kb.glossary import danish_terms, english_lookup

    assert english_lookup("proposed") == english_lookup("proposes") == "forslag"
    assert english_lookup("Municipalities") == "kommuner"
    assert english_lookup("weather") is None
    assert danish_terms("When is the deadline for the municipalities' report?") == [
        "hvornår", "senest frist", "kommuner", "afrapportering"]


def _corpus_chunks() -> dict[str, list[Chunk]]:
    """The bundled corpus chunked as ingest does it, by document (no model needed)."""
    from ingest.pipeline import discover, prepare
    from kb.config import IngestSettings

    from .conftest import CORPUS
    found, _ = discover([CORPUS])
    return {item.source: prepare(item, IngestSettings()) for item in found}


def _questions() -> list[str]:
    import json

    from .conftest import ROOT
    lines = (ROOT / "evals" / "questions" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def _changed(chunks: list[Chunk]) -> list[Chunk]:
    """A new version of a document: its first chunk reworded, one chunk gone."""
    first = chunks[0]
    text = first.text + " Tilføjet afsnit om familieambulatoriernes døgnbehandling."
    return [Chunk(chunk_id=first.chunk_id + "-v2", meta=first.meta, text=text, section=first.section, start=0,
                  end=len(text), index=0, headings=first.headings), *chunks[2:]]


@pytest.mark.parametrize("compaction", ["never", "every change"])
def test_an_index_updated_document_by_document_ranks_exactly_as_one_built_from_scratch(tmp_path, monkeypatch,
                                                                                       compaction):
    """Removed rows kept as dead ones and added rows in the tail score as a compacted matrix does."""
    if compaction == "never":
        monkeypatch.setattr(LexicalIndex, "COMPACT_AT", 1e9)
        monkeypatch.setattr(LexicalIndex, "COMPACT_MIN_ENTRIES", 10**12)
    else:  # and the main matrix, on disk, rewritten a few hundred entries at a time
        import kb.lexical

        monkeypatch.setattr(LexicalIndex, "COMPACT_AT", 0.0)
        monkeypatch.setattr(LexicalIndex, "COMPACT_MIN_ENTRIES", 0)
        monkeypatch.setattr(kb.lexical, "_BLOCK", 257)
    docs = _corpus_chunks()
    names = sorted(docs)
    index = LexicalIndex.build([c for name in names[:2] for c in docs[name]])
    index.save(tmp_path)
    index = LexicalIndex.load(tmp_path, writable=True)
    for name in names[2:]:
        index.apply(docs[name], [])
    index.apply(_changed(docs[names[1]]), [c.chunk_id for c in docs[names[1]]])
    index.apply([], [c.chunk_id for c in docs[names[3]]])
    index.save(tmp_path)
    updated = LexicalIndex.load(tmp_path)
    assert (len(updated._ids) > len(updated)) == (compaction == "never")  # dead rows are kept until compaction
    final = [c for name in names if name != names[3]
             for c in (_changed(docs[name]) if name == names[1] else docs[name])]
    rebuilt = LexicalIndex.build(reversed(final))  # another order of rows must not matter either
    assert updated.ids() == rebuilt.ids() == {c.chunk_id for c in final}
    assert updated.doc_freq == rebuilt.doc_freq and updated.vocabulary == rebuilt.vocabulary
    assert updated.known == rebuilt.known
    flt = SearchFilter(doc_types=("anmodning", "sagsfremstilling"), date_from="2020")
    for question in _questions():
        for f in (SearchFilter(), flt):
            got = [(c.chunk_id, round(s, 4)) for c, s in updated.search(question, 10, f)]
            assert got == [(c.chunk_id, round(s, 4)) for c, s in rebuilt.search(question, 10, f)], question
    assert updated.chunk(final[0].chunk_id) == final[0]
    assert [c.chunk_id for c in updated.document(final[0].meta.doc_id)] == \
        [c.chunk_id for c in sorted((c for c in final if c.meta.doc_id == final[0].meta.doc_id), key=lambda c: c.index)]


def test_scores_are_those_of_bm25s_built_over_the_same_tokens():
    """bm25s is the reference implementation the fusion weights were tuned against."""
    import bm25s
    import numpy as np

    from kb.text import char_ngrams
    chunks = sorted((c for cs in _corpus_chunks().values() for c in cs), key=lambda c: c.chunk_id)
    reference = bm25s.BM25()
    reference.index([char_ngrams(c.embed_text) or [""] for c in chunks], show_progress=False)
    index = LexicalIndex.build(chunks)
    position = {cid: i for i, cid in enumerate(index._ids)}
    order = [position[c.chunk_id] for c in chunks]
    for question in _questions():
        tokens = char_ngrams(question)
        expected = reference.get_scores(tokens) if any(t in reference.vocab_dict for t in tokens) else 0
        assert np.allclose(index.scores(question)[order], expected, rtol=1e-4, atol=1e-5), question
