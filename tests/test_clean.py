from ingest.clean import clean, normalise_unicode, strip_markdown_inline

PDF_BROKEN = """ Afrapportering om gravide med skadeligt 

rusmiddelbrug 

Sagsfremstilling 

Med denne sag orienteres Børne- og Ungdomsudvalget om Social- og Boligstyrelsens anmodning 

om fornyet behandling af den centrale udmelding fra maj 2024.  

 

I 2019 anmodede styrelsen kommunerne om at vurdere målgruppen af udsatte gravide kvinder med 

skadeligt rusmiddelbrug, som har behov for døgnbehandling. Kommunerne, organiseret i de fem 

KKR-områder, rapporterede tilbage, at de kendte til meget få kvinder i denne målgruppe. Dette 

skyldtes primært styrelsens definition. 

Økonomiske konsekvenser 

Punktet har ingen økonomiske konsekvenser. 
"""


def test_pdf_broken_lines_are_rejoined_without_merging_paragraphs():
    doc = clean(PDF_BROKEN)
    texts = [b.text for b in doc.blocks]
    assert "Med denne sag orienteres Børne- og Ungdomsudvalget om Social- og Boligstyrelsens anmodning " \
           "om fornyet behandling af den centrale udmelding fra maj 2024." in texts
    assert any(t.startswith("I 2019 anmodede") and "Kommunerne, organiseret i de fem KKR-områder, rapporterede" in t
               and t.endswith("styrelsens definition.") for t in texts)
    assert "Afrapportering om gravide med skadeligt rusmiddelbrug" in texts
    headings = [b.text for b in doc.blocks if b.kind == "heading"]
    assert "Sagsfremstilling" in headings and "Økonomiske konsekvenser" in headings
    assert "Punktet har ingen økonomiske konsekvenser." in texts


def test_blocks_point_into_the_clean_text():
    doc = clean(PDF_BROKEN)
    for block in doc.blocks:
        assert doc.text[block.start:block.end] == block.text


def test_markdown_headings_lists_and_emphasis():
    doc = clean("## **Tema 4. Fremadrettet**\n\n- 4.1 Hvordan vil *kommunerne* gøre?\n- 4.2 Hvilke tiltag?\n\n"
                "**Sagsnr.:**  \n2019-5570\n")
    kinds = [(b.kind, b.text) for b in doc.blocks]
    assert ("heading", "Tema 4. Fremadrettet") in kinds
    assert ("list_item", "4.1 Hvordan vil kommunerne gøre?") in kinds
    assert ("list_item", "4.2 Hvilke tiltag?") in kinds
    assert ("paragraph", "Sagsnr.: 2019-5570") in kinds
    assert "*" not in doc.text


def test_markdown_and_tab_tables_become_readable_rows():
    md = clean("| Indsats | 2018 | 2019 |\n|---|---|---|\n| Døgn | 3 | 5 |\n")
    assert "Indsats: Døgn; 2018: 3; 2019: 5" in md.text
    tabbed = clean("\t2017\t2018\nHvor mange er visiteret?\t[indsæt antal]\t[indsæt antal]\n")
    assert "Hvor mange er visiteret? – 2017: [indsæt antal]; 2018: [indsæt antal]" in tabbed.text


def test_unicode_is_normalised():
    text = normalise_unicode("sam\u00admen\u00a0med e\u0301n\u2011gang \ufb01nde\r\n")
    assert text == "sammen med én-gang finde\n"


def test_list_items_are_not_merged_and_dates_are_not_list_items():
    doc = clean("Kommunerne kan beskrive følgende områder:\n- 1) Karakteren af indsatsen\n"
                "- 2) Faglige kompetencer\n\nDato:\n27. september 2022\n")
    items = [b.text for b in doc.blocks if b.kind == "list_item"]
    assert items == ["1) Karakteren af indsatsen", "2) Faglige kompetencer"]
    assert "Dato: 27. september 2022" in [b.text for b in doc.blocks]


def test_page_furniture_is_dropped():
    body = "\n".join(f"Afsnit {i} handler om indsatsen til gravide og deres familier." for i in range(6))
    topics = ["opsporing", "behandling", "efterværn"]
    pages = [f"Socialstyrelsen – Vejledning\n{body}\nDenne side handler om {t}.\nSide {n} af 3"
             for n, t in enumerate(topics, start=1)]
    text = clean("\f".join(pages)).text
    assert "Side 2 af 3" not in text
    assert "Socialstyrelsen – Vejledning" not in text
    assert "Denne side handler om behandling." in text


def test_hyphenated_line_breaks_and_suspended_hyphens():
    doc = clean("Kommunerne skal sikre en sammen-\nhængende indsats, hvor Social-\nog Boligstyrelsen deltager.\n")
    assert "sammenhængende indsats, hvor Social- og Boligstyrelsen deltager." in doc.text


def test_footnote_does_not_split_a_sentence():
    doc = clean("Socialstyrelsen har\n\n¹ <https://example.org/kilde>\n\nderfor besluttet at anmode kommunerne.\n")
    assert "Socialstyrelsen har derfor besluttet at anmode kommunerne." in doc.text
    assert "¹ https://example.org/kilde" in doc.text


def test_markdown_links_keep_their_words():
    assert strip_markdown_inline("via [Forløbsbeskrivelser](#) her") == "via Forløbsbeskrivelser her"


def test_an_issuer_glued_to_its_year_by_pdf_extraction_is_split():
    """A title page's 'Socialstyrelsen2022' reads 'Socialstyrelsen 2022' wherever it is shown (a
    source card's section path); words that merely end in digits inside a sentence are left alone."""
    doc = clean("Udsatte gravide\n\nSocialstyrelsen2022\n\nIndsatsen følger COVID19-vejledningen fra 2020.\n")
    texts = [b.text for b in doc.blocks]
    assert "Socialstyrelsen 2022" in texts and "Socialstyrelsen2022" not in doc.text
    assert any("COVID19-vejledningen" in t for t in texts)
