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
