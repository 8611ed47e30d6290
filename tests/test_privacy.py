import pytest

from kb.privacy import contains_personal_data, mask


@pytest.mark.parametrize("text,expected", [
    ("Borgeren har CPR 010190-1234.", "Borgeren har CPR [CPR]."),
    ("cpr 0101901234 står i sagen", "cpr [CPR] står i sagen"),
    ("CPR 01.02.03-1234 og 01 02 03 1234", "CPR [CPR] og [CPR]"),
    ("født 010203 - 1234", "født [CPR]"),
    ("Ring på 12 34 56 78 eller +45 87654321", "Ring på [TELEFON] eller [TELEFON]"),
    ("tlf. 1234-5678", "tlf. [TELEFON]"),
    ("Skriv til anna.hansen@kommune.dk i dag", "Skriv til [EMAIL] i dag"),
])
def test_personal_data_is_masked(text, expected):
    assert mask(text) == expected
    assert contains_personal_data(text)


# Over-masking only costs a feedback record a case number; under-masking would store personal data,
# so '2019-5570' (also a valid phone format) may be masked, but dates and counts must survive.
@pytest.mark.parametrize("text", [
    "Dato: 26. november 2019",
    "Frist: senest den 31. maj 2025 (31.05.2025)",
    "Sag 25/3387, beslutning den 15-05-2025",
    "Cirka 80 gravide og 300 børn om året",
    "Mødet var 01.02.2003 kl. 10",
])
def test_guidance_facts_are_not_masked(text):
    assert mask(text) == text


@pytest.mark.parametrize("text,expected", [
    ("Borgeren Anne Hansen spørger om fristen.", "Borgeren [NAVN] spørger om fristen."),
    ("Jeg har talt med Mette Kowalski i dag.", "Jeg har talt med [NAVN] i dag."),  # unlisted surname next to a name
    ("Asger Nielsen ringede.", "[NAVN] ringede."),  # unlisted first name before a listed surname
    ("Hej, jeg hedder Anne-Sofie.", "Hej, jeg hedder [NAVN]."),
    ("Hvad siger Region Syddanmark?", "Hvad siger Region Syddanmark?"),
    ("Jeg taler med Hans om det. Hans mor er gravid.", "Jeg taler med [NAVN] om det. Hans mor er gravid."),
])
def test_personal_names_are_masked_but_not_ordinary_words(text, expected):
    from kb.privacy import known_words

    known = known_words(["hans bog er her", "Vi skriver til Region Syddanmark om det."])
    assert mask(text, known) == expected


def _personal_data(rng):
    """One person's data, written the ways practitioners write it."""
    from kb.names import FIRST_NAMES, SURNAMES

    day, month, year, serial = rng.randint(1, 28), rng.randint(1, 12), rng.randint(0, 99), rng.randint(0, 9999)
    cpr = rng.choice(["{d:02d}{m:02d}{y:02d}-{s:04d}", "{d:02d}{m:02d}{y:02d}{s:04d}", "{d:02d}.{m:02d}.{y:02d}-{s:04d}",
                      "{d:02d} {m:02d} {y:02d} {s:04d}", "{d:02d}{m:02d}{y:02d} - {s:04d}"]).format(
        d=day, m=month, y=year, s=serial)
    digits = f"{rng.randint(20, 99)}{rng.randint(0, 999999):06d}"
    phone = rng.choice([digits, " ".join(digits[i:i + 2] for i in range(0, 8, 2)), f"{digits[:4]} {digits[4:]}",
                        f"+45 {digits}", f"+45 {' '.join(digits[i:i + 2] for i in range(0, 8, 2))}", f"0045{digits}"])
    first, surname = rng.choice(sorted(FIRST_NAMES)), rng.choice(sorted(SURNAMES))
    email = rng.choice([f"{first}.{surname}@kommune.dk", f"{first[0]}{surname}@mail.dk", f"{first}{year}@gmail.com"])
    return {"cpr": cpr, "phone": phone, "first": first, "surname": surname, "email": email.lower()}


# The person's data comes with the words people put in front of it (removed with it for searching).
TEMPLATES = [
    "{q} CPR: {cpr}",
    "{first} {surname}: {q}",
    "{q} Tlf. {phone}, mail {email}",
    "Borgeren {first} {surname} ({cpr}). {q}",
    "{q} Mvh {first} {surname}, telefon {phone}",
    "{q} Moderen: {first} {surname}, cpr-nr. {cpr}, e-mail: {email}",
]


def test_a_generated_set_of_questions_with_personal_data_stores_none_of_it_and_gets_the_same_answers(corpus_kb, caplog,
                                                                                                      tmp_path):
    """Issue 15: ≥200 questions with embedded personal data; CPR, phone and e-mail are masked in
    everything stored (eval record, feedback, log lines) every time, names ≥ 90% of the time, and the
    answer is the one the clean question gets."""
    import json
    import logging
    import random

    from kb.feedback import FeedbackStore
    from kb.records import answer_record

    from .conftest import ROOT

    rng = random.Random(15)
    questions = [json.loads(line)["question"] for line in (ROOT / "evals/questions/dev.jsonl").open(encoding="utf-8")]
    feedback = FeedbackStore(tmp_path / "feedback.sqlite")
    structured_leaks, name_leaks, names, differ, people = [], 0, 0, [], []
    cases = [(q, t) for q in rng.sample(questions, 40) for t in TEMPLATES]
    assert len(cases) >= 200
    caplog.set_level(logging.DEBUG)
    logging.getLogger("kb").debug("capture check")  # everything the product logs at any level is captured
    for clean, template in cases:
        person = _personal_data(rng)
        people.append(person)
        dirty = template.format(q=clean, **person)
        answer = corpus_kb.ask(dirty)
        reference = corpus_kb.ask(clean)
        if (answer.text, [c.chunk_id for c in answer.citations]) != \
                (reference.text, [c.chunk_id for c in reference.citations]):
            differ.append(dirty)
        record = answer_record(answer, None, 0.0)
        row_id = feedback.add(1, record["question"], record["answer"], record["citations"], {}, comment=dirty)
        stored = json.dumps(record, ensure_ascii=False) + json.dumps(feedback.rows()[-1], ensure_ascii=False)
        assert feedback.rows()[-1]["id"] == row_id
        for key in ("cpr", "phone", "email"):
            if key in template and person[key] in stored:
                structured_leaks.append((key, person[key]))
        for key in ("first", "surname"):
            if "{" + key + "}" in template:
                names += 1
                name_leaks += f"{person[key]}" in stored.replace(person["email"], "")
    logged = caplog.text
    assert structured_leaks == []
    assert "capture check" in logged
    assert not [p for person in people for p in (person["cpr"], person["phone"], person["email"],
                                                 f"{person['first']} {person['surname']}") if p in logged]
    assert names and 1 - name_leaks / names >= 0.9, f"names masked: {1 - name_leaks / names:.2%} of {names}"
    assert differ == [], f"{len(differ)} of {len(cases)} answers changed by personal data, e.g. {differ[:3]}"
