"""What a question asks for, and whether a sentence holds that kind of answer.

Pure pattern functions over Danish and English text, used by the answerer to prefer the sentence
that holds the asked-for fact (a deadline, a named body, a reason, a decision), to start the
answer with that fact, and to abstain when no passage holds it. Nothing here knows the corpus.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .dates import DATE_MENTION

Intent = Literal["abbreviation", "document", "deadline", "when", "how_many", "why", "named", "who", "decision",
                 "recommend", "list", "yes_no", "what"]

# Intents whose answer is one fact that a sentence either holds or does not: a candidate answer
# without it is not an answer (the answer check abstains), and the fact is put first.
FACT_INTENTS: frozenset[str] = frozenset({"abbreviation", "document", "deadline", "when", "how_many", "named"})
# Intents whose kind of answer ``holds`` recognises in a sentence (a fact, a reason, a body, a decision).
KINDED_INTENTS: frozenset[str] = FACT_INTENTS | {"why", "who", "decision", "recommend"}

_ABBREVIATION = re.compile(r"\b(står|stå)\s+(?:forkortelsen\s+)?(?P<a>[A-ZÆØÅ][A-ZÆØÅa-zæøå-]*[A-ZÆØÅ])\s+for\b|"
                           r"\bforkortelsen\s+(?P<b>[A-ZÆØÅ][\wæøå-]+)|"
                           r"\bhvad\s+betyder\s+(?P<c>[A-ZÆØÅ]{2,}[\w-]*)|"
                           r"\bwhat\s+does\s+(?P<d>[A-Z][\w-]*[A-Z])\s+stand\s+for\b")
_DOCUMENT = re.compile(r"\b(sagsnummer\w*|sagsnr\w*|journalnummer\w*|j\.?nr|enhed(?:en)?|afsender\w*|"
                       r"case number|reference number|file number|which unit|what unit)\b", re.I)
_DEADLINE = re.compile(r"\b(frist\w*|deadline\w*|senest|by when|due date|due)\b|"
                       r"\bhvornår\b.*\b(skal|skulle|må|bør)\b|\bwhen\b.*\b(must|should|has to|have to|is due)\b", re.I)
_WHEN = re.compile(r"\b(hvornår|hvilken dato|hvilket år|hvilken måned|hvilket tidspunkt|dateret|"
                   r"when|what date|which year|which month|dated)\b", re.I)
_HOW_MANY = re.compile(r"\b(hvor mange|hvor stor\w*|hvor meget|hvor høj\w*|hvor lang\w*|antal\w*|andel\w*|beløb\w*|"
                       r"koste\w*|pris\w*|takst\w*|how many|how much|how large|how long|number of|share of|"
                       r"cost\w*|price|rate)\b", re.I)
_WHY = re.compile(r"\b(hvorfor|begrundelse\w*|grunden|årsag\w*|baggrund\w*|why|reason\w*)\b", re.I)
_WHO = re.compile(r"\b(hvem|who|whom)\b|"
                  r"\bhvilk\w+\s+(organisation\w*|myndighed\w*|aktør\w*|udvalg\w*|styrelse\w*|instans\w*|"
                  r"part\w*|enheder|kommune\w*|region\w*|fagpersoner|klinik\w*)|"
                  r"\b(which|what)\s+(organi[sz]ation|body|authority|committee|agency|clinics?|actors?)\b", re.I)
_DECISION = re.compile(r"\b(besluttede|beslutning\w*|besluttet|vedtog|vedtaget|decided|decision|resolved)\b", re.I)
_RECOMMEND = re.compile(r"\b(anbefal\w*|recommend\w*)\b", re.I)
_LIST = re.compile(r"^\W*(hvilke|which|what are)\b|\b(kriterier\w*|temaer\w*|områder|nævn|list)\b", re.I)
# A question that opens with a finite verb ('Er …?', 'Hører hun …?', 'Does …?').
_YES_NO = re.compile(r"^\W*(og\s+)?(er|har|skal|kan|må|bør|blev|var|gælder|findes|mener|"
                     r"(?!hv)[a-zæøå]+(?:er|ede|te)|is|are|does|do|did|can|should|was|were|has|have)\b(?=.*\?\s*$)",
                     re.I)

# 'Hvilke kommuner …', 'Hvilken region …': the answer names them, so it needs a proper name.
_NAMED = re.compile(r"\bhvilke[nt]?\s+(kommune\w*|region\w*|organisation\w*|myndighed\w*|klinik\w*|"
                    r"familieambulatori\w*|styrelse\w*|udvalg\w*)|\bwhich\s+(municipalit\w+|regions?|clinics?)\b",
                    re.I)

_ORDER: tuple[tuple[Intent, re.Pattern], ...] = (
    ("abbreviation", _ABBREVIATION), ("document", _DOCUMENT), ("deadline", _DEADLINE), ("when", _WHEN),
    ("how_many", _HOW_MANY), ("why", _WHY), ("named", _NAMED), ("who", _WHO), ("decision", _DECISION),
    ("recommend", _RECOMMEND), ("list", _LIST), ("yes_no", _YES_NO),
)


# Words that say what kind of answer is wanted, not what the question is about.
_CUES = re.compile(r"\b(frist\w*|deadline\w*|senest|hvornår|dato\w*|dateret|år|årstal|måned|tidspunkt\w*|"
                   r"mange|meget|stor\w*|antal\w*|andel\w*|hvorfor|begrundelse\w*|grund\w*|årsag\w*|"
                   r"hvem|beslutning\w*|besluttede|besluttet|forkortelse\w*|betyder|står|sagsnummer\w*|"
                   r"sagsnr\w*|journalnummer\w*|navn\w*|hedder|when|why|who|whom|reason\w*|date|many|much|"
                   r"number|decision|decided|due|deadline)\b", re.I)


def cue_words(text: str) -> set[str]:
    return {m.group().lower() for m in _CUES.finditer(text)}


def classify(question: str) -> Intent:
    """The first intent whose pattern the question matches, most specific first. A scenario that
    sets the scene first ('Vi har en gravid borger … Hører hun til målgruppen?') is classified by
    its last sentence, which is where the question is."""
    asked = _last_sentence(question)
    for intent, pattern in _ORDER:
        if pattern.search(asked):
            return intent
    return "what"


def _last_sentence(text: str) -> str:
    parts = [p for p in re.split(r"(?<=[.!?])\s+(?=[A-ZÆØÅa-zæøå])", text.strip()) if p.strip()]
    questions = [p for p in parts if p.rstrip().endswith("?")]
    return (questions or parts or [text])[-1]


def abbreviation_asked(question: str) -> str:
    m = _ABBREVIATION.search(question)
    return next((g for g in (m.groupdict().values() if m else ()) if g), "")


# --- what an answer of each kind looks like ------------------------------------------------------

# Template blanks in report forms ('[indsæt antal]', '[dato]', '____'): never an answer, and the year
# or label in front of one ('2018: [indsæt antal]') is no answer either.
PLACEHOLDER = re.compile(r"(?:\b[\w.-]+:\s*)?\[[^\]\n]{0,40}\]|_{3,}|\.{4,}")
# A letterhead or form field: a short label and its value on one line ('Sagsnr.: 2019 - 9901').
FIELD = re.compile(r"^(?P<label>[A-ZÆØÅ][\wæøå.\- ]{0,24}?):\s*(?P<value>\S.{0,120})$")
_FIELD_CONCEPTS = {  # label stem -> the words a question uses for it
    "sagsnr": ("sagsnummer", "sagsnr", "journalnummer", "case number", "reference number", "file number"),
    "j.nr": ("journalnummer", "j.nr", "jnr", "case number", "reference number"),
    "journalnr": ("journalnummer", "case number", "reference number"),
    "enhed": ("enhed", "afsender", "afdeling", "kontor", "unit", "department", "sender"),
    "dato": ("dato", "dateret", "sendte", "udsendte", "afsendt", "skrevet", "udgivet", "date", "dated", "sent",
             "issued", "written"),
}
_DEADLINE_MARK = re.compile(r"\b(senest|frist\w*|inden|deadline|bedes\s+\w+\s+(?:til\s+\w+\s+)?senest)\b", re.I)
_NUMBER_WORDS = ("én", "ét", "to", "tre", "fire", "fem", "seks", "syv", "otte", "ni", "ti", "elleve", "tolv",
                 "tyve", "tredive", "fyrre", "halvtreds", "hundrede", "tusind")
_QUANTITY = re.compile(r"(?:\b(?:cirka|ca\.|godt|knap|over|under|mindst|omkring|op til|ud af|i alt|alle)\s+)?"
                       r"(?<![\d/.-])\b(?:\d+(?:[.,]\d+)?(?:\s?%|\s?procent)?|" + "|".join(_NUMBER_WORDS) + r")\b"
                       r"(?![./-]\d)(?:\s+(?!og\b|eller\b)[^\W\d_]+)?", re.I)
_YEAR = re.compile(r"^(?:19|20)\d{2}$")
_CAUSE = re.compile(r"\b(fordi|derfor|hvorfor|qua|idet|skyld\w*|på baggrund af|bekymring\w*|grund\w*|årsag\w*|"
                    r"med henblik på|for (?:både )?at|ikke hører til|hjemmehørende|argument\w*|begrund\w*|"
                    r"gør det|since|because|due to)\b|,\s*da\b", re.I)
_BODY = re.compile(r"(styrelse|udvalg|kommune|region|ambulatori|afdeling|direktør|styregruppe|netværk|"
                   r"sekretariat|ministeri|organisation|forening|aktør|leder|tilsyn|koordination|myndighed|"
                   r"eksperter|interessenter|behandling\b|svangreomsorg|kkr|\bkl\b)", re.I)
_PROPER = re.compile(r"(?<![.!?:]\s)(?<!^)\b[A-ZÆØÅ][\wæøå-]+|\b[A-ZÆØÅ]{2,}\b")
_DECIDED = re.compile(r"\b(godkendt|vedtaget|besluttet|afvist|tiltrådt|taget til efterretning|"
                      r"tages til efterretning|approved|adopted|rejected)\b", re.I)


# A case or journal number as written in Danish case items: '2019-5570', '2019 - 9901', '25/3387'.
CASE_NUMBER = re.compile(r"(?<![\d.-])\b(?:19|20)?\d{2}\s?[-/]\s?\d{3,5}\b(?![./-]\d)")
_NUMBER_ASKED = re.compile(r"\b(sagsnummer\w*|sagsnr\w*|journalnummer\w*|j\.?nr|case number|reference number|"
                           r"file number)\b", re.I)


def asked_noun(question: str) -> str:
    """The thing a 'hvilken X' / 'hvor mange X' / 'hvem er X' question asks for ('postadresse',
    'sanktioner', 'formand'): an answer must come from a passage that mentions it."""
    m = _ASKED_NOUN.search(_last_sentence(question))
    if m is None:
        return ""
    following = [w.lower() for w in re.findall(r"[^\W\d_][\w-]*", m.group("rest"))]
    following = [w for w in following if w not in _DETERMINERS]
    if not following:
        return ""
    noun = following[0]
    # 'hvilke sociale problemstillinger': an adjective in -e before a noun; 'hvilken postadresse skal': not.
    if len(following) > 1 and re.search(r"(e|ske)$", noun) and re.fullmatch(r"[a-zæøå-]{4,}", following[1]) \
            and following[1] not in _FUNCTION_WORDS:
        noun = following[1]
    return "" if len(noun) < 3 or noun in _FUNCTION_WORDS or cue_words(noun) else noun


def names_a_kind(noun: str) -> bool:
    """Whether the asked-for noun names a kind of answer rather than a thing: an instance ('hvilken
    dato', 'hvilke tal', 'hvilken myndighed') or a description ('hvad er formålet med …', 'hvad er
    baggrunden for …'). Such a question is answered by a date, a body or a few sentences that need
    not repeat the word."""
    return bool(_KIND_NOUN.fullmatch(noun.lower()))


_KIND_NOUN = re.compile(r"(dato|dag|måned|år|årstal|tidspunkt|tal|antal|beløb|type|slags|form|måde|myndighed|"
                        r"instans|organisation|aktør|part|person|sted|dokument|formål|baggrund|indhold|fokus|"
                        r"status|rolle|opgave|ansvar|betydning|hensigt|idé|mål|konsekvens|forskel|sammenhæng|"
                        r"hovedpunkt|pointe|budskab)(e|er|en|erne|et|ene)?")


def named_phrases(question: str) -> list[str]:
    """Multi-word proper names inside a Danish question ('Danske Regioner', 'Region Syddanmark'):
    an answer must come from a passage that names the same thing, not from one that shares its
    common words. A name at the start of the question is skipped: any word is capitalised there."""
    return [m.group() for m in _NAMED_PHRASE.finditer(_last_sentence(question))]


_NAMED_PHRASE = re.compile(r"(?<!^)(?<![.!?:]\s)\b[A-ZÆØÅ][\wæøå-]+(?:\s+[A-ZÆØÅ][\wæøå-]+)+")

# 'Hvad er X' only as a short noun phrase ending the question or before a preposition ('hvad er
# e-mailadressen til …'), not 'hvad er det, der …'.
_ASKED_NOUN = re.compile(r"\b(?:hvilke[nt]?|hvor mange|hvem er|hvad hedder|"
                         r"hvad (?:er|var) (?=(?:[\w-]+\s+){0,2}[\w-]+\s*(?:\?|\b(?:til|for|på|hos|af|om|med)\b)))"
                         r"\s*(?P<rest>.*)", re.I)
_DETERMINERS = frozenset("""af den det de dem disse to tre fire fem andre øvrige konkrete eventuelle deres dens dets
hans hendes sin sit sine min mit mine vores jeres""".split())
_FUNCTION_WORDS = frozenset("""skal er har kan må bør blev var vil kunne skulle ville gælder findes står bliver
sker får gør i på til for om med af fra ved efter under over som der at""".split())

# Words added to the searched text for an intent, so retrieval reaches the sentences that hold such
# an answer even when the question's own wording does not occur in them ('fristen' -> 'senest').
SEARCH_HINTS: dict[str, str] = {"deadline": "senest frist"}


def without_placeholders(text: str) -> str:
    return PLACEHOLDER.sub(" ", text)


def is_placeholder_only(text: str) -> bool:
    """A unit that is nothing but a form's blanks and their labels."""
    return len(re.sub(r"\W", "", without_placeholders(text))) < 3


def field_of(text: str) -> tuple[str, str] | None:
    """(label, value) when the unit is a one-line field such as 'Dato: 27. september 2022'."""
    m = FIELD.match(text.strip())
    return (m.group("label").strip(), m.group("value").strip()) if m and "\n" not in text.strip() else None


def field_asked(label: str, question: str) -> bool:
    """Whether the question asks about this field of the document (its case number, unit, date). A
    letterhead date never answers a question about a deadline."""
    key = label.lower().rstrip(".").replace(" ", "")
    if key.startswith("dato") and classify(question) == "deadline":
        return False
    concepts = next((words for stem, words in _FIELD_CONCEPTS.items() if key.startswith(stem.replace(".", ""))
                     or key.startswith(stem)), (label.lower(),))
    q = question.lower()
    return any(re.search(rf"\b{re.escape(c)}", q) for c in concepts)


@dataclass(frozen=True)
class Fact:
    """A span of a sentence that holds the asked-for fact (start, end within the sentence)."""
    start: int
    end: int


def quantities(text: str, question: str = "") -> list[Fact]:
    """Numbers that answer 'how many': not years named in the question, not dates, not blanks, and
    for 'hvor mange X' not a number that counts something else ('ét løsningsforslag pr. region' does
    not say how many regions)."""
    clean = without_placeholders(text)
    asked_years = set(re.findall(r"\b(?:19|20)\d{2}\b", question))
    counted = asked_noun(question) if re.search(r"\bhvor mange\b", question, re.I) else ""
    # 'Hvor meget …', 'hvilket beløb …' ask for an amount: a figure, not 'ét løsningsforslag'.
    amount = bool(re.search(r"\b(hvor meget|beløb\w*|how much)\b", question, re.I))
    dates = [m.span() for m in DATE_MENTION.finditer(clean) if not _YEAR.match(m.group())]
    found = []
    for m in _QUANTITY.finditer(clean):
        number = re.search(r"\d+(?:[.,]\d+)?|" + "|".join(_NUMBER_WORDS), m.group(), re.I)
        if number is None or any(s <= m.start() < e for s, e in dates):
            continue
        if LIST_NUMBER.match(clean[m.start():]) and not clean[:m.start()].strip():
            continue  # '3) Hvilke …', '2. Beskrivelse …': a list number, not a quantity
        value = number.group()
        if amount and not value[0].isdigit():
            continue
        if value in asked_years or (_YEAR.match(value) and not re.search(r"\d\s+\D", m.group())):
            continue  # a year is a date, not a quantity
        if value.lower() in ("to", "ti", "ni") and not re.search(r"\s[^\W\d_]+$", m.group()):
            continue  # 'to'/'ti'/'ni' alone are too often other words
        if counted and _counts_other(clean[m.start() + number.end():], counted):
            continue
        found.append(Fact(m.start(), m.end()))
    return found


# A list number that opens a line: '3) ', '2. ', '2.1 ' — it counts nothing.
LIST_NUMBER = re.compile(r"\d{1,2}(?:[.)]|\.\d{1,2}\.?)\s")


def _counts_other(after: str, noun: str) -> bool:
    """Whether the words right after a number name something other than ``noun``: the number is
    followed by a word, and the noun (or a compound of it) is not among the next three words."""
    following = re.findall(r"[^\W\d_][\w-]*|\S", after)[:3]
    if not following or not re.match(r"[^\W\d_]", following[0]) or following[0].lower() in _FUNCTION_WORDS:
        return False
    stem = noun.lower()[:max(4, len(noun) - 3)]
    return not any(stem in w.lower() for w in following)


def holds(intent: str, text: str, question: str = "") -> float:
    """How clearly a sentence holds the kind of answer the intent asks for: 1, 0.5 (weakly) or 0.
    A question in a document (a report form's 'Hvor mange … i 2018?') holds no fact, reason or
    body; it can only list what is asked about."""
    clean = without_placeholders(text)
    if clean.rstrip().endswith("?") and intent not in ("list", "what"):
        return 0.0
    if intent == "deadline":
        if not DATE_MENTION.search(clean):
            return 0.0
        return 1.0 if _DEADLINE_MARK.search(clean) else 0.5
    if intent == "when":  # a deadline ('senest den 31. maj') says when something is due, not when it happened
        return 1.0 if _event_dates(clean) else 0.0
    if intent == "named":
        asked = {w.lower() for w in re.findall(r"[\wæøå-]+", question)}
        return 1.0 if any(m.group().lower() not in asked for m in _PROPER.finditer(clean)) else 0.0
    if intent == "how_many":
        return 1.0 if quantities(text, question) else 0.0
    if intent == "why":
        return 1.0 if _CAUSE.search(clean) else 0.0
    if intent == "who":
        return 1.0 if _BODY.search(clean) or _PROPER.search(clean) else 0.0
    if intent == "decision":
        return 1.0 if _DECIDED.search(clean) else 0.0
    if intent == "recommend":
        return 1.0 if re.search(r"\banbefal\w*|\bbør\b", clean, re.I) else 0.0
    if intent == "list":
        return 1.0 if clean.rstrip().endswith(":") else 0.0
    if intent == "abbreviation":
        short = abbreviation_asked(question)
        return 1.0 if short and re.search(rf"\(\s*{re.escape(short)}\s*\)|{re.escape(short)}\s*\(", clean) else 0.0
    if intent == "document":
        if (f := field_of(text)) is not None:
            return 1.0 if field_asked(f[0], question) else 0.0
        return 1.0 if _NUMBER_ASKED.search(question) and CASE_NUMBER.search(clean) else 0.0
    return 0.0


def fact_span(intent: str, text: str, question: str = "") -> Fact | None:
    """The exact span of ``text`` that answers a one-fact question, for the short answer up front."""
    if (f := field_of(text)) is not None and field_asked(f[0], question):
        start = text.index(f[1])
        return Fact(start, start + len(f[1]))
    if intent == "document" and (m := CASE_NUMBER.search(text)):
        return Fact(*m.span())
    if intent in ("deadline", "when"):
        mentions = [m for m in DATE_MENTION.finditer(text) if not PLACEHOLDER.search(text[m.start():m.end() + 3])]
        if intent == "when":
            events = {m.span() for m in _event_dates(text)}
            mentions = [m for m in mentions if m.span() in events] or mentions
        if not mentions:
            return None
        if intent == "deadline" and (mark := _DEADLINE_MARK.search(text)):
            after = [m for m in mentions if m.start() >= mark.start()]
            mentions = after or mentions
        m = _widest_date(text, mentions[0])
        return Fact(*m)
    if intent == "how_many":
        found = quantities(text, question)
        return found[0] if found else None
    if intent == "abbreviation":
        short = abbreviation_asked(question)
        m = re.search(rf"\(\s*{re.escape(short)}\s*\)", text) if short else None
        if m is None:
            return None
        head = text[:m.start()].rstrip()
        cut = max(head.rfind(","), *(head.rfind(f" {w} ") + len(w) + 1 for w in ("af", "fra", "til", "ved", "og")))
        start = cut + 1 if cut >= 0 else 0
        while start < len(head) and head[start] == " ":
            start += 1
        return Fact(start, len(head)) if len(head) - start > len(short) else None
    if intent == "decision":
        m = _DECIDED.search(text)
        return Fact(m.start(), m.end()) if m else None
    return None


def _event_dates(text: str) -> list[re.Match]:
    """Date mentions that are not a deadline: not right after 'senest (den)', 'frist', 'inden'."""
    return [m for m in DATE_MENTION.finditer(text) if not _DUE_BEFORE.search(text[max(0, m.start() - 25):m.start()])]


_DUE_BEFORE = re.compile(r"\b(senest|frist\w*|inden|deadline|no later than)\b[^,;:]{0,20}$", re.I)


def _widest_date(text: str, m: re.Match) -> tuple[int, int]:
    """A day-and-month mention widened to its year when one follows ('31. maj' -> '31. maj 2025')."""
    end = m.end()
    if (tail := re.match(r"\s+(?:19|20)\d{2}\b", text[end:])) is not None:
        end += tail.end()
    return m.start(), end
