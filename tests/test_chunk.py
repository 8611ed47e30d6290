from ingest.chunk import chunk_document
from ingest.clean import clean
from kb.types import DocumentMeta

META = DocumentMeta(doc_id="doc", source="doc.md", title="Vejledning")


def _doc():
    para = "Kommunen skal tilbyde en helhedsorienteret indsats til den gravide og hendes familie. " * 4
    return clean(f"# Vejledning\n\n## Målgruppen\n\n{para}\n\n{para}\n\n## Samarbejde\n\n{para}\n\n"
                 f"### Regioner\n\n{para}\n\n## Kort\n\nEt kort afsnit.\n")


def test_chunks_follow_sections_and_respect_size():
    chunks = chunk_document(META, _doc(), size=500, min_size=100)
    assert all(len(c.text) <= 500 * 1.25 for c in chunks)
    sections = [c.section for c in chunks]
    assert "Vejledning > Målgruppen" in sections
    assert "Vejledning > Samarbejde > Regioner" in sections
    # A chunk never spans two sections that are each big enough to stand alone.
    assert not any("Målgruppen" in c.text and "Samarbejde" in c.text for c in chunks)


def test_chunk_offsets_point_into_the_clean_text():
    doc = _doc()
    for chunk in chunk_document(META, doc, size=500, min_size=100):
        assert doc.text[chunk.start:chunk.end] == chunk.text


def test_small_trailing_section_is_not_an_orphan_chunk():
    chunks = chunk_document(META, _doc(), size=500, min_size=100)
    assert all(len(c.text) >= 100 for c in chunks)
    assert "Et kort afsnit." in chunks[-1].text


def test_chunk_ids_are_deterministic_and_change_with_content():
    doc = _doc()
    first = [c.chunk_id for c in chunk_document(META, doc, 500, 100)]
    assert first == [c.chunk_id for c in chunk_document(META, doc, 500, 100)]
    changed = clean(doc.text.replace("Et kort afsnit.", "Et ændret kort afsnit."))
    assert first[-1] != chunk_document(META, changed, 500, 100)[-1].chunk_id


def test_oversized_paragraph_is_split_at_sentences():
    long_para = " ".join(f"Sætning nummer {i} om indsatsen til gravide." for i in range(60))
    chunks = chunk_document(META, clean(long_para), size=400, min_size=100)
    assert len(chunks) > 3
    assert all(c.text.endswith(".") for c in chunks)
