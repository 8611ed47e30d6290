import logging

from ingest.catalog import document_meta, guess_meta
from ingest.clean import clean
from kb.dates import find_date


def test_find_date_prefers_the_dato_label_and_understands_danish_months():
    assert find_date("Udsendt i maj 2024. Dato: 27. september 2022") == "2022-09-27"
    assert find_date("Beslutning den 15-05-2025") == "2025-05-15"
    assert find_date("Publikationen er udsendt i maj 2024") == "2024-05"
    assert find_date("Socialstyrelsen 2022") == "2022"
    assert find_date("ingen dato her") == ""


def test_guess_meta_from_text():
    doc = clean("Enhed:\nSocialtilsyn\n\nSagsnr.:\n2019-5570\n\nDato:\n26. november 2019\n\n"
                "## Bilag 2 Afrapporteringsskema for udsatte gravide\n\nTekst.\n")
    meta = guess_meta("x", "x.md", doc)
    assert meta.title == "Bilag 2 Afrapporteringsskema for udsatte gravide"
    assert meta.doc_type == "afrapporteringsskema"
    assert meta.date == "2019-11-26"
    assert meta.case_number == "2019-5570"
    assert meta.guessed


def test_sidecar_wins_and_missing_sidecar_warns(tmp_path, caplog):
    doc = clean("Forløbsbeskrivelse om gravide\n\nTekst fra 2021.\n")
    path = tmp_path / "a.txt"
    path.write_text("x", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        guessed = document_meta(path, "a", "a.txt", doc)
    assert guessed.guessed and "Ingen metadatafil" in caplog.text
    (tmp_path / "a.meta.yaml").write_text("title: Rigtig titel\ndoc_type: vejledning\ndate: 2023-02-01\n"
                                          "issuer: Socialstyrelsen\n", encoding="utf-8")
    meta = document_meta(path, "a", "a.txt", doc)
    assert (meta.title, meta.doc_type, meta.date, meta.issuer) == ("Rigtig titel", "vejledning", "2023-02-01",
                                                                 "Socialstyrelsen")
    assert not meta.guessed


def test_every_bundled_document_has_a_complete_sidecar():
    from pathlib import Path

    from ingest.catalog import read_sidecar, sidecar_path
    from ingest.load import is_document

    corpus = Path(__file__).resolve().parents[1] / "corpus"
    docs = [p for p in corpus.iterdir() if is_document(p)]
    assert len(docs) >= 5
    for path in docs:
        fields = read_sidecar(sidecar_path(path))
        assert {"title", "doc_type", "issuer", "date"} <= fields.keys(), path.name


def test_iso_month_dates_keep_their_month():
    assert find_date("2024-05") == "2024-05"
    assert find_date("udsendt 2024-05-13") == "2024-05-13"


def test_user_filters_accept_years_months_and_danish_dates():
    import pytest

    from kb.errors import BadDateError
    from kb.types import SearchFilter

    flt = SearchFilter.from_user(["anmodning"], "maj 2022", "31. december 2024")
    assert (flt.date_from, flt.date_to, flt.doc_types) == ("2022-05", "2024-12-31", ("anmodning",))
    with pytest.raises(BadDateError):
        SearchFilter.from_user([], "sidste år", "")
    for impossible in ("2025-13-45", "31-02-2025", "2025-13", "2024-02-30"):  # never read as 'the year 2025'
        with pytest.raises(BadDateError, match=impossible):
            SearchFilter.from_user([], impossible, "")
    assert SearchFilter.from_user([], "29-02-2024", "2022-9").date_from == "2024-02-29"
