"""Language helpers shared by ingest and answering: sentences, tokens, Danish letter folding."""
from __future__ import annotations

import re
from functools import lru_cache

# Abbreviations after which a period does not end a Danish sentence.
_ABBREVIATIONS = {
    "bl.a", "fx", "f.eks", "jf", "mv", "m.v", "ca", "dvs", "evt", "nr", "pkt", "stk", "kl", "osv",
    "inkl", "ekskl", "mht", "vedr", "pga", "hhv", "iht", "mfl", "m.fl", "ift", "sagsnr", "tlf",
    "bl", "a", "el", "ang", "gl", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "okt", "nov", "dec", "e.g", "i.e", "etc", "vs", "mr", "mrs", "dr", "no",
}
_SENTENCE_END = re.compile(r"[.!?]+[\"'»”)]*(?=\s+[\"'«“(]?[A-ZÆØÅ0-9•\-])")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in text; line breaks always end a sentence."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        offset, body = line.start(), line.group()
        start = 0
        for match in _SENTENCE_END.finditer(body):
            word = re.search(r"([\w.]+)[.!?]*$", body[start:match.start() + 1])
            token = word.group(1).rstrip(".").lower() if word else ""
            if body[match.start()] == "." and (token in _ABBREVIATIONS or (token.isdigit() and len(token) <= 2)):
                continue
            end = match.end()
            _add_span(spans, body, offset, start, end)
            start = end
        _add_span(spans, body, offset, start, len(body))
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of a text as strings (``split_sentences``' spans)."""
    return [text[start:end] for start, end in split_sentences(text)]


def _add_span(spans: list[tuple[int, int]], body: str, offset: int, start: int, end: int) -> None:
    piece = body[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((offset + start + lead, offset + start + lead + len(stripped)))


_FOLD = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa",
                       "é": "e", "ä": "ae", "ö": "oe", "ü": "ue"})


def fold(text: str) -> str:
    """Danish letters to their ASCII spellings, so 'doegn' and 'døgn' meet."""
    return text.translate(_FOLD)


_WORD = re.compile(r"[0-9]+(?:[./-][0-9]+)*|[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


DANISH_STOPWORDS = frozenset("""
og i jeg det at en den til er som på de med han af for ikke der var mig sig men et har om vi min
havde ham hun nu over da fra du ud sin dem os op man hans hvor eller hvad skal selv her alle vil
blev kunne ind når være dog noget ville jo deres efter ned skulle denne end dette mit også under
have dig anden hende mine alt meget sit sine vor mod disse hvis din nogle hos blive mange ad bliver
hendes været thi jer sådan hvem hvilke hvilken hvilket hvornår hvordan hvorfor kan får få gør
ske sker må bør ifølge står mere mest ja nej tak gerne lige bare dine dit giv give giver stadig
uden kun nye ny helt lidt godt altså fordi derfor findes fandt gælder gjorde gøre sige siger
hej borger borgeren borgere borgers cpr sagsbehandler sagsbehandleren medarbejder medarbejdere kollega
kollegaer spørgsmål spørge spørger svar svare hjælpe
""".split())  # the last two lines: how practitioners talk about a case, never what they ask about

ENGLISH_STOPWORDS = frozenset("""
the a an and or of to in on for is are was were be been what which who whom when where why how
does do did can could should would will shall must may might this that these those it its with
by from as at about into than then there their they them we you your our i me my he she his her
not no yes please tell explain hello hi citizen client caseworker colleague question answer help
""".split())


_MARKUP = re.compile(r"<[^>]*>|!?\[([^\]]*)\]\([^)]*\)|(?:https?://|www\.)\S+")


def without_markup(text: str) -> str:
    """The words a person typed, without HTML tags, markdown image/link targets or web addresses
    (a link's own text stays): markup is never searched, scored or used to pick the language."""
    return " ".join(_MARKUP.sub(lambda m: f" {m.group(1) or ''} ", text).split())


def detect_language(text: str) -> str:
    """'en' or 'da' by stopword counts; Danish wins ties since it is the product's language."""
    text = without_markup(text)
    tokens = words(text)
    en = sum(t in ENGLISH_STOPWORDS for t in tokens)
    da = sum(t in DANISH_STOPWORDS for t in tokens) + sum(ch in "æøåÆØÅ" for ch in text)
    return "en" if en > da else "da"


@lru_cache(maxsize=1)
def danish_stemmer():
    import Stemmer

    return Stemmer.Stemmer("danish")


# Abbreviations common in Danish case documents, indexed with their full word so either matches.
_EXPANSIONS = {"sagsnr": "sagsnummer", "j.nr": "journalnummer", "jnr": "journalnummer", "tlf": "telefon",
               "nr": "nummer", "pkt": "punkt", "stk": "stykke", "kkr": "kommunekontaktråd"}


def stem_tokens(text: str) -> list[str]:
    """Lowercased, stop-word-free, Danish-stemmed and letter-folded tokens for lexical matching."""
    tokens = [t for t in words(text) if t not in DANISH_STOPWORDS and t not in ENGLISH_STOPWORDS]
    tokens += [_EXPANSIONS[t] for t in tokens if t in _EXPANSIONS]
    return [fold(s) for s in danish_stemmer().stemWords(tokens)]


def char_ngrams(text: str, n: int = 4) -> list[str]:
    """Character n-grams of each letter-folded content word, with word boundaries marked.

    Measured on the question sets, BM25 over these beats BM25 over stemmed words (MRR@10 fused with
    dense 0.77 vs 0.76, recall@5 0.94 vs 0.87): Danish compounds ('videreuddannelse' ~ 'uddanne'),
    inflections and typos share most of their n-grams.
    """
    grams: list[str] = []
    for word in words(text):
        if word in DANISH_STOPWORDS or word in ENGLISH_STOPWORDS:
            continue
        marked = f"#{fold(word)}#"
        grams.extend(marked[i:i + n] for i in range(max(1, len(marked) - n + 1)))
    return grams
