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
