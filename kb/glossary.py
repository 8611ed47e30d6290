"""English to Danish terms of the social-sector domain, so English questions can use the Danish
lexical index. Words, not questions: extend it with the vocabulary of new document kinds."""
from __future__ import annotations

import re

EN_DA: dict[str, str] = {
    "pregnant": "gravide", "pregnancy": "graviditet", "woman": "kvinde", "women": "kvinder",
    "mother": "mor", "child": "barn", "children": "børn", "baby": "spædbarn", "newborn": "nyfødt",
    "family": "familie", "families": "familier", "partner": "partner", "network": "netværk",
    "birth": "fødslen", "prenatal": "prænatal", "exposure": "eksponering",
    "substance": "rusmiddel", "substances": "rusmidler", "drug": "rusmiddel", "drugs": "rusmidler",
    "alcohol": "alkohol", "abuse": "misbrug", "addiction": "afhængighed", "harmful": "skadeligt",
    "vulnerable": "udsatte", "disadvantaged": "udsatte", "psychiatric": "psykiatrisk",
    "mental": "psykisk", "homelessness": "hjemløshed", "social": "sociale",
    "treatment": "behandling", "residential": "døgnbehandling", "inpatient": "døgnbehandling",
    "outpatient": "ambulante", "clinic": "familieambulatorium", "clinics": "familieambulatorierne",
    "maternity": "svangreomsorg", "antenatal": "svangreomsorg", "care": "omsorg", "support": "støtte",
    "intervention": "indsats", "interventions": "indsatser", "effort": "indsats", "efforts": "indsatser",
    "offer": "tilbud", "offers": "tilbud", "service": "tilbud", "services": "tilbud", "placement": "anbringelse",
    "pathway": "forløbsbeskrivelse", "guidance": "vejledning", "guideline": "vejledning",
    "recommendation": "anbefaling", "recommendations": "anbefalinger", "recommends": "anbefaler",
    "municipality": "kommune", "municipalities": "kommuner", "municipal": "kommunale",
    "council": "kommunalbestyrelse", "councils": "kommunalbestyrelser", "region": "region",
    "regions": "regioner", "regional": "regionale", "agency": "styrelsen", "authority": "styrelsen",
    "ministry": "ministeriet", "committee": "udvalget", "board": "styregruppe",
    "report": "afrapportering", "reporting": "afrapportering", "reports": "afrapporteringer",
    "request": "anmodning", "form": "skema", "template": "skema", "notice": "udmelding",
    "announcement": "udmelding", "central": "centrale", "case": "sag", "number": "nummer",
    "deadline": "senest frist", "date": "dato", "when": "hvornår", "year": "år", "yearly": "årlig",
    "annually": "årlig", "approved": "godkendt", "approve": "godkende", "decision": "beslutning",
    "decided": "besluttede", "purpose": "formål", "aim": "formål", "aimed": "målrettet",
    "target": "målgruppe", "group": "målgruppen", "criteria": "kriterier", "inclusion": "inklusionskriterier",
    "exclusion": "eksklusionskriterier", "coordination": "koordination", "cooperation": "samarbejde",
    "collaboration": "samarbejde", "agreement": "samarbejdsaftale", "agreements": "samarbejdsaftaler",
    "themes": "temaer", "theme": "tema", "describe": "beskrive", "description": "beskrivelse",
    "proposal": "forslag", "proposals": "forslag", "solution": "løsningsforslag", "model": "indsatsmodel",
    "models": "indsatsmodeller", "specialised": "specialiserede", "specialized": "specialiserede",
    "economic": "økonomiske", "financial": "økonomiske", "consequences": "konsekvenser",
    "legal": "lovgrundlag", "law": "lov", "competence": "kompetencer", "training": "kompetenceløft",
    "education": "videreuddannelse", "concern": "bekymring", "health": "sundhed",
    "propose": "forslag", "suggest": "forslag", "send": "sendes", "submit": "fremsendes",
    "establish": "etablering", "establishment": "etablering", "operate": "drift", "operation": "drift",
    "run": "drift", "responsibility": "opgave", "task": "opgave", "coordinate": "koordinere",
    "cooperate": "samarbejde", "collaborate": "samarbejde", "identify": "opsporing", "detection": "opsporing",
    "recovery": "recovery", "rehabilitation": "rehabilitering", "relatives": "pårørende",
    "professionals": "fagpersoner", "leaders": "ledere", "managers": "ledere", "manager": "leder",
    "count": "antal", "estimate": "vurderet", "assess": "vurdere",
    "highly": "højt", "specialist": "specialiserede", "dialogue": "dialog", "steering": "styregruppe",
    "renewed": "fornyede", "renewal": "fornyet", "new": "fornyet", "original": "oprindelige", "first": "første",
    "contain": "rumme", "include": "omfatte", "cover": "omfatte", "sent": "udsendt", "issued": "udsendt",
    "answer": "svar", "answered": "svarede", "reply": "svar", "replied": "svarede", "respond": "svare",
    "background": "baggrund", "reason": "begrundelse", "approval": "godkendelse", "meeting": "møde",
    "politically": "politisk", "political": "politisk", "processed": "behandlet", "considered": "behandlet",
    "budget": "budget", "money": "økonomi", "cost": "udgift", "costs": "udgifter", "staff": "medarbejdere",
}

_WORD = re.compile(r"[A-Za-z]+")


def english_lookup(word: str) -> str | None:
    """The Danish term for an English word or a regular inflection of it (proposed, proposes)."""
    word = word.lower()
    for candidate in (word, word[:-1] if word.endswith("s") else "", word[:-2] if word.endswith("es") else "",
                      word[:-1] if word.endswith("ed") else "", word[:-2] if word.endswith("ed") else "",
                      word[:-3] if word.endswith("ing") else "", word[:-3] + "e" if word.endswith("ing") else ""):
        if candidate and candidate in EN_DA:
            return EN_DA[candidate]
    return None


def danish_terms(question: str) -> list[str]:
    """The Danish terms for the English domain words of a question, in order, without repeats."""
    out: list[str] = []
    for word in _WORD.findall(question):
        term = english_lookup(word)
        if term and term not in out:
            out.append(term)
    return out


def renamings(setting: str) -> list[tuple[str, str]]:
    """'old=new; old2=new2' (KB_ISSUER_ALIASES) as (old, new) pairs."""
    pairs = [part.split("=", 1) for part in setting.split(";") if "=" in part]
    return [(old.strip(), new.strip()) for old, new in pairs if old.strip() and new.strip()]


def _named(name: str, text: str) -> bool:
    """Whether ``text`` holds ``name`` as whole words."""
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def organisation(issuer: str, pairs: list[tuple[str, str]]) -> str:
    """The organisation behind an issuer, under its current name: the part before the first comma
    (a unit such as 'Socialstyrelsen, Socialtilsyn og National Koordination' belongs to its
    organisation), renamed ('Socialstyrelsen' -> 'Social- og Boligstyrelsen'). The issuer filter
    offers these, so an organisation, its units and its former names are one choice."""
    name = issuer.split(",", 1)[0].strip()
    for old, new in pairs:
        if new not in name:
            name = re.sub(rf"\b{re.escape(old)}\b", new, name)
    return name


def issuer_names(issuer: str, pairs: list[tuple[str, str]]) -> str:
    """The issuer with the other names of its organisation ('Socialstyrelsen' also as 'Social- og
    Boligstyrelsen', and the other way round), for asking whether a passage's document is by the
    organisation a question names."""
    names = [issuer]
    for old, new in pairs:
        if _named(old, issuer) and new not in issuer:
            names.append(new)
        elif new in issuer:
            names.append(old)
    return " ".join(names)


def issuer_label(issuer: str, pairs: list[tuple[str, str]]) -> str:
    """'Socialstyrelsen (nu Social- og Boligstyrelsen)' for an issuer that was renamed since."""
    for old, new in pairs:
        if _named(old, issuer) and new not in issuer:
            return f"{issuer} (nu {new})"
    return issuer
