"""Every user-facing sentence in one place, Danish first, so it can be reviewed and translated."""
from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "da": {
        "empty": "Skriv et spørgsmål om vejledningerne, fx »Hvornår skal afrapporteringen sendes?«",
        "too_long": "Spørgsmålet er for langt ({n} tegn; højst {limit}). Skriv det kortere, "
                    "og spørg om én ting ad gangen.",
        "abstain": "Det kan jeg ikke finde i dokumenterne. Vidensbasen ser ikke ud til at besvare "
                   "spørgsmålet, så jeg gætter ikke.",
        "maybe_relevant": "Måske relevant",
        "nothing_close": "Ingen tekststykker i dokumenterne ligger tæt på spørgsmålet.",
        "answer_intro": "",
        "no_store": "Vidensbasen er tom. Kør først: kb ingest",
        "ingest_running": "En anden indlæsning (kb ingest) kører allerede. Vent til den er færdig, og prøv igen.",
        "personal_data": "Bemærk: Dit spørgsmål indeholdt personoplysninger (et CPR-nummer, telefonnummer, en "
                         "e-mail eller et navn). De er erstattet med [CPR], [TELEFON], [EMAIL] eller [NAVN] og "
                         "hverken søgt på eller gemt – men skriv dem ikke i chatten.",
        "no_filter_match": "Ingen dokumenter passer til de valgte filtre (dokumenttype og datoer). "
                           "Fjern eller udvid filtrene, og spørg igen.",
        "bad_date": "Datoen »{value}« kan ikke læses. Skriv den som ÅÅÅÅ, ÅÅÅÅ-MM eller ÅÅÅÅ-MM-DD.",
        "internal_error": "Beklager, der opstod en fejl. Prøv igen, eller kontakt support.",
        "preparing": "Forbereder svaret …",
        "follow_up_of": "Opfattet som opfølgning på: »{previous}«",
        "rate_limited": "Du har stillet mange spørgsmål på kort tid (højst {n} i minuttet). Vent et øjeblik, "
                        "og spørg så igen.",
        "llm_dropped": "({n} sætning(er) fra sprogmodellen er udeladt, fordi kilderne ikke bekræfter dem.)",
        "llm_fallback": "Sprogmodellens svar kunne ikke bekræftes i kilderne, så her er de ordrette citater:",
        "llm_unavailable": "Sprogmodellen svarede ikke ({reason}), så her er de ordrette citater:",
        "llm_checked": "Hver sætning er kontrolleret mod de citerede kilder.",
        "newer_guidance": "Bemærk: Sagen er siden fulgt op af nyere materiale: {doc_type}, {date}.",
        "newer_heading": "Nyere i samme sag",
        "course_intro": "Forløbet i sagen »{matter}«, dokument for dokument:",
        "newest_intro": "Det nyeste i sagen »{matter}« er {doc_type} fra {date}: »{title}«.",
        "deadline_past": "Bemærk: Fristen {deadline} er overskredet.",
    },
    "en": {
        "empty": "Please type a question about the guidance documents.",
        "too_long": "The question is too long ({n} characters; at most {limit}). Please shorten it "
                    "and ask about one thing at a time.",
        "abstain": "I cannot find this in the documents. The knowledge base does not seem to answer "
                   "the question, so I will not guess.",
        "maybe_relevant": "Maybe relevant",
        "nothing_close": "No passage in the documents is close to the question.",
        "answer_intro": "The documents say (quoted in Danish):",
        "no_store": "The knowledge base is empty. Run first: kb ingest",
        "ingest_running": "Another ingest (kb ingest) is already running. Wait for it to finish and try again.",
        "personal_data": "Note: your question contained personal data (a CPR number, phone number, e-mail or "
                         "name). It was replaced by [CPR], [TELEFON], [EMAIL] or [NAVN] and neither searched nor "
                         "stored – but please do not enter it in the chat.",
        "no_filter_match": "No documents match the chosen filters (document type and dates). "
                           "Remove or widen them and ask again.",
        "bad_date": "The date »{value}« cannot be read. Write it as YYYY, YYYY-MM or YYYY-MM-DD.",
        "internal_error": "Sorry, something went wrong. Please try again, or contact support.",
        "preparing": "Preparing the answer …",
        "follow_up_of": "Read as a follow-up to: »{previous}«",
        "rate_limited": "You have asked many questions in a short time (at most {n} a minute). Please wait a "
                        "moment and ask again.",
        "llm_dropped": "({n} sentence(s) from the language model were left out: the sources do not confirm them.)",
        "llm_fallback": "The language model's answer could not be confirmed in the sources, so here are the quotes:",
        "llm_unavailable": "The language model did not answer ({reason}), so here are the quotes:",
        "llm_checked": "Every sentence was checked against the sources it cites.",
        "newer_guidance": "Note: the matter has since been followed up by newer material: {doc_type}, {date}.",
        "newer_heading": "Newer in the same matter",
        "course_intro": "The course of the matter »{matter}«, document by document (quoted in Danish):",
        "newest_intro": "The newest in the matter »{matter}« is the {doc_type} of {date}: »{title}«.",
        "deadline_past": "Note: the deadline {deadline} has passed.",
    },
}


def msg(key: str, language: str = "da", **kwargs: object) -> str:
    table = MESSAGES.get(language, MESSAGES["da"])
    return table[key].format(**kwargs)
