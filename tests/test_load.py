from pathlib import Path

import pytest

from ingest.clean import clean
from ingest.load import LoadError, is_document, load


def _make_pdf(path: Path, pages: list[str]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    pdf.output(str(path))


def test_pdf_text_is_extracted_page_by_page(tmp_path):
    path = tmp_path / "vejledning.pdf"
    _make_pdf(path, ["Formaal\n\nKommunerne skal sende afrapporteringen senest den 31. maj.",
                     "Side to handler om samarbejde med regionerne."])
    raw = load(path)
    assert raw.fmt == "pdf"
    assert raw.text.count("\f") == 1
    assert "senest den 31. maj" in clean(raw.text).text


def test_docx_keeps_headings_lists_and_tables(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Målgruppen", level=1)
    document.add_paragraph("Kvinderne er kendetegnet ved følgende:")
    document.add_paragraph("De er gravide", style="List Bullet")
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells, ["", "2018", "2019"], strict=True):
        cell.text = text
    for cell, text in zip(table.rows[1].cells, ["Antal visiterede", "4", "7"], strict=True):
        cell.text = text
    path = tmp_path / "skema.docx"
    document.save(str(path))
    doc = clean(load(path).text)
    kinds = {b.text: b.kind for b in doc.blocks}
    assert kinds["Målgruppen"] == "heading"
    assert kinds["De er gravide"] == "list_item"
    assert "Antal visiterede – 2018: 4; 2019: 7" in doc.text


def test_html_drops_navigation_and_scripts(tmp_path):
    path = tmp_path / "side.html"
    path.write_text("<html><body><nav>Menu Forside</nav><script>var x=1;</script><main>"
                    "<h1>Forløbsbeskrivelse</h1><p>Indsatsen skal være helhedsorienteret.</p>"
                    "<ul><li>Opsporing</li></ul></main><footer>Cookies</footer></body></html>", encoding="utf-8")
    text = clean(load(path).text).text
    assert "Indsatsen skal være helhedsorienteret." in text
    assert "Opsporing" in text
    assert "Menu" not in text and "var x" not in text and "Cookies" not in text


def test_corrupt_pdf_is_a_load_error(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n this is not really a pdf \x00\x01")
    with pytest.raises(LoadError):
        load(path)


def test_binary_file_named_txt_is_a_load_error(tmp_path):
    path = tmp_path / "image.txt"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(LoadError, match="binær"):
        load(path)


def test_windows_1252_text_is_read(tmp_path):
    path = tmp_path / "gammel.txt"
    path.write_bytes("Døgnbehandling for gravide på særlige vilkår.".encode("cp1252"))
    assert "Døgnbehandling" in load(path).text


def test_sidecars_and_unknown_types_are_not_documents(tmp_path):
    (tmp_path / "a.meta.yaml").write_text("title: x", encoding="utf-8")
    (tmp_path / "b.xlsx").write_bytes(b"x")
    (tmp_path / "c.md").write_text("# Titel", encoding="utf-8")
    assert [p.name for p in sorted(tmp_path.iterdir()) if is_document(p)] == ["c.md"]
