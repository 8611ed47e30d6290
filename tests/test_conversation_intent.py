"""Follow-ups, intents and the answer check: pure rules first, then end to end on the bundled corpus."""
import pytest

from kb.conversation import refers_back, resolve
from kb.intent import (
    asked_noun,
    classify,
    fact_span,
    holds,
    is_placeholder_only,
    named_phrases,
    names_a_kind,
    quantities,
)
from kb.types import Turn


@pytest.mark.parametrize("question,refers", [
    ("Hvorfor?", False),  # no pronoun, but no topic of its own either: resolve() treats it as a follow-up
    ("Hvem behandlede den?", True),
    ("Hvornår skal den sendes?", True),
    ("Og hvad er fristen?", True),
    ("And by when?", True),
    ("Hvad skal den fornyede behandling rumme?", False),  # 'den' is an article here
    ("Hvem er de centrale aktører?", False),
    ("Hvornår skal afrapporteringen sendes?", False),
])
def test_refers_back(question, refers):
    assert refers_back(question) is refers


def test_a_question_with_its_own_topic_is_not_glued_to_the_previous_one():
    turns = [Turn("Hvem er målgruppen?", "Hvem er målgruppen?", ("c1",))]
    standalone = resolve("Hvornår skal afrapporteringen sendes?", turns)
    assert not standalone.follow_up and standalone.text == "Hvornår skal afrapporteringen sendes?"
    follow_up = resolve("Hvorfor?", turns)
    assert follow_up.follow_up and "målgruppen" in follow_up.text and follow_up.context == ("c1",)
    assert not resolve("Hvorfor?", []).follow_up


@pytest.mark.parametrize("question,intent", [
    ("Hvornår skal afrapporteringen sendes?", "deadline"),
    ("Hvad var fristen?", "deadline"),
    ("Hvornår er skemaet dateret?", "when"),
    ("Hvor mange gravide er der?", "how_many"),
    ("Hvorfor mener kommunerne det?", "why"),
    ("Hvem godkendte afrapporteringen?", "who"),
    ("Hvad besluttede udvalget?", "decision"),
    ("Hvad står DASSOS for?", "abbreviation"),
    ("Hvad er sagsnummeret?", "document"),
    ("Vi har en gravid borger. Hører hun til målgruppen?", "yes_no"),
])
def test_classify(question, intent):
    assert classify(question) == intent


def test_fact_spans_are_exact_and_placeholders_never_answer():
    sentence = "Afrapporteringen skal sendes til styrelsen senest den 31. maj 2025."
    span = fact_span("deadline", sentence, "Hvornår skal den sendes?")
    assert sentence[span.start:span.end] == "31. maj 2025"
    count = "Der er cirka 80 gravide, der hvert år har et skadeligt forbrug."
    span = fact_span("how_many", count, "Hvor mange gravide?")
    assert count[span.start:span.end].startswith("cirka 80")
    form = "Hvor mange har kommunen visiteret? – 2017: [indsæt antal]; 2018: [indsæt antal]"
    assert holds("how_many", form, "Hvor mange blev visiteret i 2018?") == 0
    assert is_placeholder_only("2018: [indsæt antal]")
    letter = "Dato: 27. september 2022"
    assert holds("deadline", "Dato: 27. september 2022", "Hvornår skal den sendes?") < 1
    span = fact_span("when", letter, "Hvornår er brevet dateret?")
    assert letter[span.start:span.end] == "27. september 2022"


@pytest.mark.parametrize("question,noun", [
    ("Til hvilken postadresse skal kommunerne sende skemaet?", "postadresse"),
    ("Hvilke sociale problemstillinger nævnes?", "problemstillinger"),
    ("Hvem er formand for udvalget?", "formand"),
    ("Hvor mange pladser skal tilbuddet have?", "pladser"),
    ("Hvornår skal den sendes?", ""),
])
def test_asked_noun(question, noun):
    assert asked_noun(question) == noun


def test_a_number_answers_how_many_only_when_it_counts_the_asked_thing():
    asked = "Hvor mange regioner skal stå for tilbuddet?"
    assert quantities("Hver region skal have ét fælles tilbud til kvinderne.", asked) == []
    assert quantities("Opgaven deles mellem alle fem regioner.", asked)
    assert quantities("Det gælder 5 af dem.", asked)  # no noun after the number: it may count the regions
    assert quantities("3) Hvilke aftaler vil I indgå?", asked) == []  # a list number counts nothing
    assert holds("how_many", "Hvor mange gravide har I visiteret i 2018?", "Hvor mange gravide?") == 0.0


def test_a_deadline_does_not_say_when_something_happened():
    due = "Den skal sendes til styrelsen senest den 31. maj 2025."
    done = "Sagen blev behandlet i udvalget i april 2025 og er nu sendt videre."
    assert holds("when", due) == 0.0 and holds("deadline", due) == 1.0
    span = fact_span("when", done)
    assert holds("when", done) == 1.0 and done[span.start:span.end] == "april 2025"


def test_naming_and_amount_questions_need_a_name_or_a_figure():
    assert classify("Hvilke kommuner har oprettet et tilbud?") == "named"
    assert classify("Hvilket beløb er der afsat?") == "how_many"
    asked = "Hvilken region skal drive tilbuddet?"
    assert holds("named", "Opgaven placeres hos Danske Regioner.", asked) == 1.0
    assert holds("named", "Landets regioner skal drive tilbuddet.", asked) == 0.0
    assert quantities("Der skal være ét fælles tilbud.", "Hvor meget koster tilbuddet?") == []
    assert quantities("Der er afsat 2,5 mio. kr.", "Hvor meget er der afsat?")
    assert asked_noun("Hvad er e-mailadressen til sekretariatet?") == "e-mailadressen"
    assert asked_noun("Hvad var resultatet?") == "resultatet" and asked_noun("Hvad er fristen?") == ""


def test_kind_nouns_and_named_phrases():
    assert names_a_kind("dato") and names_a_kind("myndigheder") and names_a_kind("tal")
    assert not names_a_kind("postadresse") and not names_a_kind("datoformat")
    assert named_phrases("Hvornår svarede Region Nordjylland på udmeldingen?") == ["Region Nordjylland"]
    assert named_phrases("Danske Regioner svarede hvornår?") == []  # any word is capitalised first
    assert named_phrases("Hvad siger Social- og Boligstyrelsen?") == []


# --- end to end ---------------------------------------------------------------------------------

def test_why_follow_up_is_answered_from_the_conversation(corpus_kb):
    answer = corpus_kb.ask("Hvorfor?", history=["Mener kommunerne, at døgnbehandlingen er en kommunal opgave?"])
    assert not answer.abstained, answer.text
    assert answer.follow_up and ("regional opgave" in answer.text or "kommunalt regi" in answer.text)


def test_chat_turns_and_replayed_history_give_the_same_answer(corpus_kb):
    first = corpus_kb.ask("Hvad bad styrelsen kommunerne om i maj 2024?")
    via_turns = corpus_kb.ask("Og hvad er fristen?", history=[first.turn])
    via_text = corpus_kb.ask("Og hvad er fristen?", history=["Hvad bad styrelsen kommunerne om i maj 2024?"])
    assert via_turns.text == via_text.text
    assert "31. maj 2025" in via_text.text


def test_one_fact_answer_starts_with_the_fact(corpus_kb):
    answer = corpus_kb.ask("Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?")
    assert answer.text.startswith("**31. maj 2025** [1]"), answer.text
    assert answer.citations[0].fact == "31. maj 2025" and "31. maj 2025" in answer.citations[0].text


def test_letterhead_fields_answer_questions_about_the_document(corpus_kb):
    answer = corpus_kb.ask("Hvad er sagsnummeret på afrapporteringsskemaet fra 2019?")
    assert answer.text.startswith("**2019-5570**"), answer.text


@pytest.mark.parametrize("question", [
    "Til hvilken postadresse skal kommunerne sende afrapporteringsskemaet?",
    "Hvor mange kvinder blev visiteret til en døgnbehandlingsindsats i 2017?",
    "Hvem er formand for Børne- og Ungdomsudvalget?",
    "Hvornår skal KKR Sjælland sende afrapporteringen?",
])
def test_questions_in_the_corpus_words_that_it_does_not_answer_abstain(corpus_kb, question):
    answer = corpus_kb.ask(question)
    assert answer.abstained, answer.text
    assert answer.abstain_reason


def test_personal_data_does_not_make_a_question_unanswerable(corpus_kb):
    plain = corpus_kb.ask("Hvem er målgruppen for den centrale udmelding?")
    noisy = corpus_kb.ask("Min borger har CPR 010190-1234, tlf. 12 34 56 78 og mail a@b.dk – "
                          "hvem er målgruppen for den centrale udmelding?")
    assert not plain.abstained and not noisy.abstained, noisy.text


def test_a_list_introduced_at_the_end_of_a_passage_is_quoted_with_its_items(corpus_kb):
    answer = corpus_kb.ask("Hvilke spørgsmål skal kommunerne besvare i deres forslag til fremadrettede indsatsmodeller?")
    intro = answer.citations[0]
    assert intro.text.endswith("følgende spørgsmål:"), answer.text
    items = [c for c in answer.citations[1:] if c.text.startswith(("1)", "2)"))]
    assert items and all(c.chunk_id != intro.chunk_id for c in items)  # they open the next passage
    # sentences on one line of a passage share one citation
    assert any(c.text.endswith("Herunder inddrage døgnbehandlingsindsatser?") and c.text.startswith("1)")
               for c in answer.citations), answer.text


def test_a_list_that_runs_over_a_passage_boundary_is_quoted_to_its_end(corpus_kb):
    answer = corpus_kb.ask("Hvilke temaer skulle kommunerne beskrive og komme med forslag til?")
    items = [c.text.split(":")[0] for c in answer.citations if c.text[:2] in ("1.", "2.")]
    assert items == ["1. Beskrivelse af aktuelle indsatser", "2. Forslag til fremadrettede indsatsmodeller"], answer.text
    assert len({c.chunk_id for c in answer.citations}) >= 2
    assert {c.chunk_id for c in answer.citations} <= {h.chunk.chunk_id for h in answer.hits}  # traceable in records
