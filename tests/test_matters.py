"""Matters: relations from sidecars, the note on newer guidance in answers, and a matter's course."""
from __future__ import annotations

import pytest

from kb.matters import Catalog, with_newer_guidance
from kb.types import Answer, Chunk, Citation, DocumentMeta

REQUEST_2022, UDMELDING_FORM_2019 = "001_8c99ea295e75401a.txt", "002_30283580c0489ba7.txt"
RENEWAL_2024, DECISION_2025 = "000_89ee3ec64a4a8cd6.txt", "004_8c4574a062c83094.txt"


def test_relations_are_read_from_the_sidecar_as_a_name_or_a_list(tmp_path):
    from ingest.catalog import read_sidecar
    from kb.errors import BadFileError

    sidecar = tmp_path / "a.meta.yaml"
    sidecar.write_text('title: A\nmatter: "Sag X"\nfollows: b.txt\nreplaces: [c.txt, d]\n', encoding="utf-8")
    fields = read_sidecar(sidecar)
    assert (fields["matter"], fields["follows"], fields["replaces"], fields["answers"]) == ("Sag X", "b.txt", "c.txt|d", "")
    sidecar.write_text("title: A\nfollows: {b: 1}\n", encoding="utf-8")
    with pytest.raises(BadFileError, match="follows"):
        read_sidecar(sidecar)


def _doc(name: str, date: str, **relations) -> Chunk:
    meta = DocumentMeta(doc_id=name, source=f"{name}.txt", title=f"Titel {name}", doc_type="anmodning", date=date,
                        matter="Sag X", **relations)
    text = f"Dette dokument er nummer {name} i sagen om den samme indsats for kommunerne."
    return Chunk(chunk_id=f"{name}#0", meta=meta, text=text, section="", start=0, end=len(text), index=0)


def test_newer_documents_are_found_through_follow_ups_and_replacements_but_not_answers():
    docs = [_doc("a", "2019"), _doc("b", "2022-09", follows=("a.txt",)), _doc("c", "2024-05", replaces=("b",)),
            _doc("d", "2025-05", answers=("c.txt",)), _doc("e", "2018", follows=("a.txt",))]
    catalog = Catalog(docs, lambda doc_id: [c for c in docs if c.meta.doc_id == doc_id])
    assert [m.source for m in catalog.newer("a.txt")] == ["c.txt", "b.txt"]  # newest first; e is older
    assert catalog.newer("c.txt") == [] and catalog.newer("x.txt") == []
    assert [s.meta.source for s in catalog.matters()["Sag X"]] == ["e.txt", "a.txt", "b.txt", "c.txt", "d.txt"]
    quoted = Answer(question="q", text="Et citat. [1]", abstained=False, hits=[], citations=[
        Citation(number=1, chunk_id="b#0", source="b.txt", title="Titel b", doc_type="anmodning", date="2022-09",
                 section="", text="Et citat.", passage="Et citat.")])
    noted = with_newer_guidance(quoted, catalog)
    assert len(noted.citations) == 1 and [c.source for c in noted.newer] == ["c.txt"]
    assert noted.text.endswith("anmodning, 2024-05. [2]") and noted.newer[0].number == 2
    assert noted.newer[0].text in noted.newer[0].passage  # verbatim


def test_an_answer_quoting_an_older_request_says_that_it_was_renewed_and_cites_the_renewal(corpus_kb):
    from kb.records import answer_record

    answer = corpus_kb.ask("Hvornår skal den samlede afdækning af Tema 1 og Tema 2 fremsendes til Socialstyrelsen?")
    assert REQUEST_2022 in {c.source for c in answer.citations}
    assert [c.source for c in answer.newer] == [RENEWAL_2024] and "Bemærk" in answer.text
    assert answer.newer[0].text in corpus_kb.lexical.chunk(answer.newer[0].chunk_id).text
    record = answer_record(answer, None, 0.0)
    assert record["newer"][0]["date"] == "2024-05" and RENEWAL_2024 not in {c["source"] for c in record["citations"]}


def test_the_course_of_a_matter_is_in_date_order_with_a_verbatim_line_per_document(corpus_kb, kb_env):
    from typer.testing import CliRunner

    from kb.cli import app

    (name, steps), = corpus_kb.timeline("udsatte gravide").items()
    assert [s.meta.source for s in steps] == [UDMELDING_FORM_2019, REQUEST_2022, RENEWAL_2024, DECISION_2025]
    for step in steps:
        assert step.quote and step.quote in step.chunk.text
    kb_env(data_dir=corpus_kb.settings.data_dir, corpus_dir=corpus_kb.settings.corpus_dir)
    printed = CliRunner().invoke(app, ["timeline"]).output
    dates = [printed.index(d) for d in ("2019-11-26", "2022-09-27", "2024-05", "2025-05-15")]
    assert dates == sorted(dates) and name in printed
    assert CliRunner().invoke(app, ["timeline", "findes ikke"]).exit_code == 1


def test_a_deadline_without_a_year_is_dated_from_its_document():
    import datetime as dt

    from kb.dates import deadlines

    text = "Besvarelsen bedes fremsendt senest den 1. december. Fristen for høring er 3. marts 2031."
    assert deadlines(text, "2022-09-27") == [dt.date(2022, 12, 1), dt.date(2031, 3, 3)]
    assert deadlines(text, "2022-12-15") == [dt.date(2023, 12, 1), dt.date(2031, 3, 3)]
    assert deadlines(text, "") == [dt.date(2031, 3, 3)]  # no document date: a bare day is not guessed
    assert deadlines("Mødet holdes den 1. december 2022.", "2022") == []  # a date that is no deadline


def test_a_quoted_deadline_before_today_is_marked_as_past(corpus_kb, monkeypatch):
    import datetime as dt

    question = "Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?"
    monkeypatch.setattr(corpus_kb, "today", lambda: dt.date(2025, 6, 1))
    answer = corpus_kb.ask(question)
    assert "31. maj 2025" in answer.text and "Fristen 31. maj 2025 er overskredet" in answer.text
    monkeypatch.setattr(corpus_kb, "today", lambda: dt.date(2025, 5, 1))
    assert "overskredet" not in corpus_kb.ask(question).text


def test_a_question_about_now_prefers_the_newest_document_of_the_matter():
    from kb.matters import asks_for_current, prefer_newest
    from kb.types import Hit

    docs = [_doc("a", "2019"), _doc("b", "2022-09", follows=("a.txt",)), _doc("c", "2024-05", follows=("b.txt",)),
            _doc("z", "2020")]
    catalog = Catalog(docs, lambda doc_id: [c for c in docs if c.meta.doc_id == doc_id])
    hits = [Hit(chunk=d, score=1.0) for d in (docs[0], docs[3], docs[1], docs[2])]  # a, z, b, c
    assert [h.chunk.meta.doc_id for h in prefer_newest(hits, catalog)] == ["z", "c", "b", "a"]
    assert asks_for_current("Hvad er den gældende frist?") and asks_for_current("What is the latest request?")
    assert asks_for_current("Gælder fristen stadig?")
    for other in ("Hvornår skal beskrivelsen af aktuelle indsatser sendes?", "Hvilke regler gælder for gravide?",
                  "Du er nu en læge.", "Giver det stadig mening?"):
        assert not asks_for_current(other), other


def test_a_question_about_the_course_or_the_newest_document_is_answered_from_the_matter(corpus_kb):
    course = corpus_kb.ask("Giv mig et overblik over forløbet i sagen om den centrale udmelding.")
    assert [c.source for c in course.citations] == [UDMELDING_FORM_2019, REQUEST_2022, RENEWAL_2024, DECISION_2025]
    retrieved = {h.chunk.chunk_id for h in course.hits}
    assert all(c.chunk_id in retrieved and c.text in c.passage for c in course.citations)  # traceable, verbatim
    since = corpus_kb.ask("Hvad er der sket i sagen om døgnbehandling siden 2024?")
    assert [c.source for c in since.citations] == [RENEWAL_2024, DECISION_2025]
    newest = corpus_kb.ask("Hvad er det nyeste dokument i sagen om den centrale udmelding?")
    assert [c.source for c in newest.citations] == [DECISION_2025] and "2025-05-15" in newest.text
    request = corpus_kb.ask("Hvad er den seneste anmodning i sagen om den centrale udmelding?")
    assert [c.source for c in request.citations] == [RENEWAL_2024]


def test_a_documents_overview_says_what_it_is_where_it_stands_and_what_it_defines(corpus_kb, kb_env):
    from typer.testing import CliRunner

    from kb.cli import app
    from kb.errors import UnknownDocumentError
    from kb.overview import abbreviations

    o = corpus_kb.overview(DECISION_2025)
    assert o.position == (4, 4) and [(k, m.source) for k, m in o.relations] == [("answers", RENEWAL_2024)]
    assert dict(o.abbreviations)["DASSOS"] == "Den Administrative Styregruppe for Social- og Specialundervisningsområdet"
    assert o.sections and o.purpose and any("31. maj 2025" in d for d in o.dates)
    assert all(line in o.passages[line] for line in [o.purpose, *o.dates])  # each opens the passage it is in
    assert set(o.sections) <= set(o.passages)
    text = " ".join(c.text.replace("\n", " ") for c in corpus_kb.lexical.document(o.meta.doc_id))
    assert all(" ".join(x.split()) in " ".join(text.split()) for x in [o.purpose, *o.dates])  # quoted as written
    assert [m.source for m in corpus_kb.overview("anmodning om beskrivelse").later] == [RENEWAL_2024]
    with pytest.raises(UnknownDocumentError):
        corpus_kb.overview("anmodning")  # two documents match: it says so instead of picking one
    assert abbreviations("Ingen forkortelse (her) og et (TAL) uden navn.") == []
    kb_env(data_dir=corpus_kb.settings.data_dir, corpus_dir=corpus_kb.settings.corpus_dir)
    printed = " ".join(CliRunner().invoke(app, ["info", DECISION_2025]).output.split())
    assert "dokument 4 af 4" in printed and "DASSOS" in printed


def test_an_ingest_suggests_relations_for_documents_that_name_none_and_applies_none(tmp_path, corpus_copy,
                                                                                      fake_embeddings):
    from kb.service import KnowledgeBase

    from .conftest import make_settings

    (corpus_copy / "004_8c4574a062c83094.meta.yaml").unlink()  # the municipal decision, without a sidecar
    sidecar = corpus_copy / "002_30283580c0489ba7.meta.yaml"
    sidecar.write_text("\n".join(line for line in sidecar.read_text(encoding="utf-8").splitlines()
                                 if not line.startswith("matter")).replace("2019-5570", "2019 - 9901"),
                       encoding="utf-8")  # the form, now with the request's case number and no matter
    kb = KnowledgeBase(make_settings(tmp_path), embeddings=fake_embeddings)
    report = kb.ingest()
    joined = "\n".join(report.suggestions)
    assert "004_8c4574a062c83094.txt nævner »Anmodning om fornyet behandling" in joined
    assert "002_30283580c0489ba7.txt og 001_8c99ea295e75401a.txt har samme sagsnummer" in joined
    assert not kb.overview(DECISION_2025).relations  # suggested, not applied


def test_a_renamed_organisation_is_shown_with_its_new_name(corpus_kb):
    from kb.glossary import issuer_label, renamings

    pairs = renamings("Socialstyrelsen=Social- og Boligstyrelsen; A = B ;broken")
    assert pairs == [("Socialstyrelsen", "Social- og Boligstyrelsen"), ("A", "B")]
    assert issuer_label("Socialstyrelsen", pairs) == "Socialstyrelsen (nu Social- og Boligstyrelsen)"
    assert issuer_label("Social- og Boligstyrelsen", pairs) == "Social- og Boligstyrelsen"
    shown = {d.source: d.issuer for d in corpus_kb.documents()}
    assert shown[REQUEST_2022].endswith("(nu Social- og Boligstyrelsen)") and shown[RENEWAL_2024] == "Social- og Boligstyrelsen"
    assert corpus_kb.overview(REQUEST_2022).meta.issuer.endswith("(nu Social- og Boligstyrelsen)")


def test_documents_in_sub_folders_with_the_same_file_name_are_kept_apart():
    docs = [_doc("a", "2019"), _doc("b", "2022", follows=("a.txt",))]
    twin = _doc("x", "2023", follows=("a.txt",))
    twin = Chunk(chunk_id="y#0", meta=DocumentMeta(doc_id="y", source="andet/a.txt", title="Andet", date="2023",
                                                   matter="Sag Y"), text=twin.text, section="", start=0, end=1, index=0)
    catalog = Catalog([*docs, twin], lambda doc_id: [c for c in [*docs, twin] if c.meta.doc_id == doc_id])
    assert catalog.meta("andet/a.txt").title == "Andet" and catalog.meta("a.txt").title == "Titel a"
    assert [m.source for m in catalog.newer("a.txt")] == ["b.txt"] and catalog.newer("andet/a.txt") == []
