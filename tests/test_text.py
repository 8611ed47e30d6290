from kb.text import detect_language, fold, split_sentences, stem_tokens


def _sentences(text):
    return [text[s:e] for s, e in split_sentences(text)]


def test_sentences_respect_danish_abbreviations_and_dates():
    text = ("Kommunerne svarede bl.a., at kvinder altid tilbydes hjælp. Fristen er den 31. maj 2025. "
            "Jf. lov om social service m.v. gælder det. Næste sætning.")
    assert _sentences(text) == ["Kommunerne svarede bl.a., at kvinder altid tilbydes hjælp.",
                                "Fristen er den 31. maj 2025.",
                                "Jf. lov om social service m.v. gælder det.", "Næste sætning."]


def test_line_breaks_end_sentences():
    assert _sentences("Overskrift\nFørste linje uden punktum\nAnden.") == [
        "Overskrift", "Første linje uden punktum", "Anden."]


def test_folding_and_stemming_meet_across_spellings():
    assert fold("døgnbehandling på særlige vilkår") == "doegnbehandling paa saerlige vilkaar"
    assert stem_tokens("døgnbehandlingen") == stem_tokens("doegnbehandlingen")
    assert stem_tokens("afrapporteringen") == stem_tokens("afrapporteringerne")


def test_language_detection():
    assert detect_language("What is the deadline for the report?") == "en"
    assert detect_language("Hvornår skal afrapporteringen sendes?") == "da"
    assert detect_language("hvornaar skal den sendes") == "da"
