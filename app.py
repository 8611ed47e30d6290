"""The Gradio chat. It calls ``kb`` for everything and holds no retrieval logic of its own.

Start with ``python app.py`` (host and port from KB_APP_HOST / KB_APP_PORT, loopback by default).
The model, the store and the indexes are created once at start-up and shared by all sessions.
"""
from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator

from kb.offline import ensure_offline

ensure_offline()  # before Gradio and the model libraries read them: this chat never phones home
import gradio as gr

from kb.config import Settings, get_settings
from kb.errors import EmptyStoreError, KBError
from kb.feedback import FeedbackStore
from kb.messages import msg
from kb.records import answer_record, case_note
from kb.service import KnowledgeBase
from kb.text import detect_language
from kb.types import Answer, SearchFilter, Turn
from kb.web import RateLimit, Users, WebGuard, exposure_problem

log = logging.getLogger("kb.app")

TITLE = "Vidensbase om udsatte gravide med rusmiddelforbrug"
INTRO = (
    "{answers} og kildehenvisninger fra forløbsbeskrivelser, centrale udmeldinger, "
    "anmodninger og sagsfremstillinger – og et ærligt »det kan jeg ikke finde«, når de ikke svarer.\n\n"
    "⚠️ **Skriv ikke personoplysninger.** <details><summary>Hvad fjernes automatisk?</summary>"
    "CPR-numre, telefonnumre, e-mailadresser og almindelige danske for- og efternavne erstattes med [CPR], "
    "[TELEFON], [EMAIL] og [NAVN], før spørgsmålet søges eller gemmes. Andre oplysninger, fx adresser, "
    "sjældne navne eller helbredsoplysninger, kan vidensbasen ikke genkende.</details>"
)
EXAMPLES = [
    "Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?",
    "Hvem er målgruppen for den centrale udmelding?",
    "Hvem er de centrale aktører i indsatsen til udsatte gravide?",
    "Hvad anbefaler forløbsbeskrivelsen om støtte efter fødslen?",
    "Hvilke kvinder er ikke omfattet af målgruppen?",
]
CSS = """
#kb-intro h1 {margin-bottom: 4px;}
#kb-intro summary {cursor: pointer; text-decoration: underline; font-size: 0.92em;}
@media (max-width: 640px) {
  #kb-intro h1 {font-size: 1.35em;}
  #kb-chat {height: 260px !important; max-height: 260px;}
}
.kb-source {border-left: 4px solid var(--color-accent); padding: 6px 10px; margin: 10px 0; border-radius: 2px;}
.kb-source.kb-active {outline: 3px solid var(--color-accent); background: rgba(255, 243, 163, 0.25);}
.kb-title {font-weight: 700; line-height: 1.3;}
.kb-meta {color: var(--body-text-color); opacity: 0.85; font-size: 0.92em; margin-top: 2px;}
.kb-file {color: var(--body-text-color); opacity: 0.75; font-size: 0.85em; margin: 4px 0;}
.kb-source blockquote {margin: 6px 0; font-style: italic;}
.kb-source mark {background: #fff3a3; color: #1f1f1f;}
.kb-source mark.kb-fact {font-weight: 700;}
.kb-doc {white-space: pre-wrap; font-size: 0.92em; max-height: 420px; overflow-y: auto;}
.kb-doc .kb-focus {background: rgba(255, 243, 163, 0.35);}
#kb-inline-source {margin: 6px 0 12px;} #kb-inline-source .kb-close {margin-top: 4px; text-decoration: underline;}
.kb-earlier {margin: 8px 0; border-top: 1px solid var(--border-color-primary); padding-top: 6px;}
.kb-earlier > summary {cursor: pointer; font-weight: 600;}
.kb-maybe li {margin-bottom: 8px;}
.kb-guide ul {padding-left: 1.2em;} .kb-guide li {margin-bottom: 4px;}
.kb-docs {width: 100%; table-layout: fixed; border-collapse: collapse;}
.kb-docs th, .kb-docs td {text-align: left; vertical-align: top; padding: 6px 8px; overflow-wrap: anywhere;
  border-bottom: 1px solid var(--border-color-primary);}
.kb-docs th:nth-child(1) {width: 46%;} .kb-docs th:nth-child(2) {width: 17%;} .kb-docs th:nth-child(3) {width: 12%;}
.kb-docs th:nth-child(4) {width: 15%;} .kb-docs th:nth-child(5) {width: 10%;}
.kb-docs .kb-num {text-align: right;}
.kb-overview th {text-align: left; padding: 2px 12px 2px 0; vertical-align: top; white-space: nowrap;}
.kb-timeline {list-style: none; padding-left: 0; border-left: 3px solid var(--color-accent); margin-left: 6px;}
.kb-step {display: grid; grid-template-columns: 7.5em 1fr; gap: 8px; padding: 6px 0 10px 10px;}
.kb-step-date {font-weight: 700; white-space: nowrap;}
.kb-step blockquote {margin: 4px 0; font-style: italic;}
@media (max-width: 640px) {.kb-step {grid-template-columns: 1fr; gap: 2px;}}
.kb-docs .kb-doc-title .kb-file {font-weight: 400;}
@media (max-width: 640px) {
  .kb-docs thead {display: none;}
  .kb-docs tr {display: block; border-bottom: 1px solid var(--border-color-primary); padding: 6px 0;}
  .kb-docs td {display: block; border: none; padding: 1px 0; text-align: left;}
  .kb-docs td.kb-doc-title {font-weight: 600;}
  .kb-docs td[data-label]::before {content: attr(data-label) ": "; font-weight: 600;}
}
"""
# Every [n] in an answer links to its card (#kb-src-<answer>-<n>): open it (and its earlier answer's
# fold), scroll to it and mark it, instead of following the link; on a phone a copy of the card opens
# right under the answer. Run by Gradio at page load.
JS = """
() => {
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[href^='#kb-src-']");
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const card = document.getElementById(link.getAttribute("href").slice(1));
    if (!card) return;
    document.getElementById("kb-inline-source")?.remove();
    const bubble = link.closest(".message, [data-testid='bot']");
    if (window.matchMedia("(max-width: 640px)").matches && bubble) {
      // On a phone the source opens right under the answer, not a long scroll away.
      const inline = document.createElement("div");
      inline.id = "kb-inline-source";
      const copy = card.cloneNode(true);
      copy.removeAttribute("id");
      copy.classList.add("kb-active");
      const close = document.createElement("button");
      close.textContent = "Luk kilden";
      close.className = "kb-close";
      close.addEventListener("click", () => inline.remove());
      inline.append(copy, close);
      bubble.after(inline);
      inline.scrollIntoView({behavior: "smooth", block: "nearest"});
      return;
    }
    const fold = card.closest("details.kb-earlier");
    if (fold) fold.open = true;
    document.querySelectorAll(".kb-source.kb-active").forEach((c) => c.classList.remove("kb-active"));
    card.classList.add("kb-active");
    card.scrollIntoView({behavior: "smooth", block: "center"});
  }, true);
}
"""
# Local fonts only: the default theme asks Google Fonts for its typeface, which an offline machine
# cannot reach, and the fallback mixed two typefaces within bold titles.
THEME = gr.themes.Default(font=["system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "Noto Sans",
                                "Liberation Sans", "sans-serif"],
                          font_mono=["ui-monospace", "DejaVu Sans Mono", "Liberation Mono", "monospace"])


def _e(text: str) -> str:
    return html.escape(text or "")


def _quote(text: str, fact: str) -> str:
    """The quote, with the asked-for fact (an exact span of it) highlighted."""
    if not fact or fact not in text:
        return _e(text)
    before, _, after = text.partition(fact)
    return f"{_e(before)}<mark class='kb-fact'>{_e(fact)}</mark>{_e(after)}"


# Characters the chat's markdown renderer would act on; escaped, the user's own text is shown as typed.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:])")  # ':' too: 'http\://' is no autolink


def as_plain_text(text: str) -> str:
    """The user's question for their own chat bubble: HTML and markdown are shown, never rendered, so
    '<img src=x>' or '![](http://…)' cannot make the browser fetch anything."""
    return _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))


_QUOTED_MARKUP = re.compile(r"([\\`*_\[\]|~#])")
_REF = re.compile(r"\[(\d+)\]")
_LINE = re.compile(r"^(?P<bold>\*\*)?(?P<body>.*?)(?P=bold)?(?P<refs>(?: ?\[\d+\])*)$")


def answer_markdown(text: str, turn: int = 1) -> str:
    """The answer for the chat bubble: each quoted line exactly as in the document (HTML, markdown
    and emoji codes in it are shown, not rendered); only our own parts are markup: the bold
    asked-for fact, and each [n] as a link to its source card."""
    lines = []
    for line in text.split("\n"):
        parts = _LINE.match(line)
        body = _QUOTED_MARKUP.sub(r"\\\1", html.escape(parts["body"], quote=False))
        refs = _REF.sub(lambda m: f"[\\[{m[1]}\\]](#{_card_id(turn, int(m[1]))})", parts["refs"])
        lines.append(f"**{body}**{refs}" if parts["bold"] else f"{body}{refs}")
    return "\n".join(lines)


def _meta_line(doc_type: str, date: str, section: str) -> str:
    parts = [doc_type or "ukendt type", date or "udateret"] + ([section] if section else [])
    return " · ".join(_e(p) for p in parts)


def _card_id(turn: int, number: int) -> str:
    return f"kb-src-{turn}-{number}"


def render_sources(kb: KnowledgeBase, answer: Answer, turn: int = 1, floor: float = 0.0) -> str:
    """One answer's sources: each citation with its document facts, the quote, and an expandable view
    of the passage in its surrounding text (with the file name) and the quoted sentence highlighted.
    Card ids carry the answer's number, so the [n] links of every answer in the chat find their card."""
    if answer.error:
        return ""
    if answer.citations:
        parts = []
        for i, c in enumerate([*answer.citations, *answer.newer]):
            if i == len(answer.citations):  # then the newer documents of a quoted one's matter
                parts.append(f"<h4 class='kb-newer'>{_e(msg('newer_heading', answer.language))}</h4>")
            doc_view = []
            for chunk in kb.neighbours(c.chunk_id) or []:
                body = _e(chunk.text)
                if chunk.chunk_id == c.chunk_id:
                    marked = f"<mark>{_quote(c.text, c.fact)}</mark>"
                    body = f"<div class='kb-focus'>{body.replace(_e(c.text), marked, 1)}</div>"
                doc_view.append(body)
            parts.append(
                f"<div class='kb-source' id='{_card_id(turn, c.number)}' data-citation='{c.number}'>"
                f"<div class='kb-title'>[{c.number}] {_e(c.title)}</div>"
                f"<div class='kb-meta'>{_meta_line(c.doc_type, c.date, c.section)}</div>"
                f"<blockquote>»{_quote(c.text, c.fact)}«</blockquote>"
                f"<details><summary>Vis i dokumentet</summary><div class='kb-file'>Fil: {_e(c.source)}</div>"
                f"<div class='kb-doc'>{'<hr>'.join(doc_view)}</div></details></div>")
        return "\n".join(parts)
    # Offered only when close enough ('dense' is missing in BM25-only mode: then nothing is filtered).
    close = [h for h in answer.hits[:3] if h.scores.get("dense", floor) >= floor]
    if not close:
        return f"<p class='kb-meta'>{_e(msg('nothing_close', answer.language))}</p>" if answer.hits else ""
    items = [f"<li><div class='kb-title'>{_e(h.chunk.meta.title)}</div><div class='kb-meta'>"
             f"{_meta_line(h.chunk.meta.doc_type, h.chunk.meta.date, h.chunk.section)}</div>"
             f"{_e(_first_sentences(h.chunk.text, 280))}</li>" for h in close]
    return f"<h4>{_e(msg('maybe_relevant', answer.language))}</h4><ul class='kb-maybe'>{''.join(items)}</ul>"


def _first_sentences(text: str, limit: int) -> str:
    """The text cut at the last sentence end within ``limit`` characters (never mid-word)."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(". "), head.rfind("? "), head.rfind("! "))
    return head[:end + 1] if end > limit // 3 else head.rsplit(" ", 1)[0] + " …"


GUIDE = ("<div class='kb-guide'><h3>Sådan læser du et svar</h3><ul>"
         "<li>Først står det, der blev spurgt om (fx en dato), med fed skrift.</li>"
         "<li>Derefter følger <b>ordrette citater</b> fra dokumenterne. Tallet i kanten, fx [1], "
         "er et link: klik på det for at se kilden her med citatet fremhævet.</li>"
         "<li>»Vis i dokumentet« viser citatet i sin sammenhæng.</li>"
         "<li>Står svaret ikke i dokumenterne, siger vidensbasen det – den gætter ikke.</li>"
         "<li>Et kort spørgsmål efter et svar kan blive læst som en opfølgning; svaret siger det, "
         "og »Spørg uden sammenhæng« stiller det forfra.</li></ul></div>")


def sources_panel(panels: list[tuple[int, str, str]]) -> str:
    """The sources of every answer in the conversation: the newest open, earlier ones folded under
    their question, so an earlier answer's [n] still has its card on the page."""
    if not panels:
        return GUIDE
    *earlier, (turn, question, latest) = panels
    parts = [f"<h3>Kilder til svar {turn}</h3>{latest or '<p>Svaret har ingen kilder.</p>'}"]
    for turn, question, body in reversed(earlier):
        if body:
            parts.append(f"<details class='kb-earlier'><summary>Kilder til svar {turn}: »{_e(question)}«</summary>"
                         f"{body}</details>")
    return "\n".join(parts)


def documents_html(kb: KnowledgeBase) -> str:
    """The documents the knowledge base knows, as a table that wraps instead of scrolling sideways."""
    try:
        docs = kb.documents()
    except EmptyStoreError:
        return "<p>Vidensbasen er tom. Kør først: kb ingest</p>"
    rows = "".join(f"<tr><td class='kb-doc-title'>{_e(d.title)}<div class='kb-file'>{_e(d.source)}</div></td>"
                   f"<td data-label='Type'>{_e(d.doc_type)}</td><td data-label='Dato'>{_e(d.date or 'udateret')}</td>"
                   f"<td data-label='Udgiver'>{_e(d.issuer)}</td>"
                   f"<td class='kb-num' data-label='Tekststykker'>{d.chunks}</td></tr>" for d in docs)
    return ("<table class='kb-docs'><thead><tr><th>Titel</th><th>Type</th><th>Dato</th><th>Udgiver</th>"
            f"<th class='kb-num'>Tekststykker</th></tr></thead><tbody>{rows}</tbody></table>")


def overview_html(kb: KnowledgeBase, source: str | None) -> str:
    """One document at a glance for new staff (kb.overview): every line from the document itself."""
    if not source:
        return ""
    try:
        o = kb.overview(source)
    except KBError as exc:
        return f"<p>{_e(str(exc))}</p>"
    m = o.meta
    rows = [("Type", m.doc_type), ("Udgiver", m.issuer), ("Dato", m.date or "udateret"), ("Fil", m.source), *o.place()]
    facts = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows if v)
    parts = [f"<h3>{_e(m.title)}</h3><table class='kb-overview'>{facts}</table>"]
    def in_document(line: str, shown: str) -> str:  # each line opens the passage it stands in
        passage = o.passages.get(line, "")
        if not passage:
            return shown
        body = _e(passage).replace(_e(line), f"<mark>{_e(line)}</mark>", 1)
        return f"<details><summary>{shown}</summary><div class='kb-doc'>{body}</div></details>"

    if o.purpose:
        parts.append(f"<h4>Formål</h4>{in_document(o.purpose, f'»{_e(o.purpose)}«')}")
    if o.sections:
        parts.append("<h4>Indhold</h4><ol>" + "".join(f"<li>{in_document(x, _e(x))}</li>" for x in o.sections) +
                     "</ol>")
    if o.dates:
        parts.append("<h4>Datoer og frister</h4><ul>" + "".join(f"<li>{in_document(x, f'»{_e(x)}«')}</li>"
                                                                 for x in o.dates) + "</ul>")
    if o.abbreviations:
        parts.append("<h4>Forkortelser</h4><ul>" + "".join(f"<li><b>{_e(a)}</b>: {_e(b)}</li>"
                                                           for a, b in o.abbreviations) + "</ul>")
    return "\n".join(parts)


def document_sources(kb: KnowledgeBase) -> list[tuple[str, str]]:
    try:
        return [(f"{d.title} ({d.date or 'udateret'})", d.source) for d in kb.documents()]
    except EmptyStoreError:
        return []


def timeline_html(kb: KnowledgeBase) -> str:
    """Each matter's documents in date order: date, type, title, file and its opening sentence, quoted."""
    try:
        matters = kb.timeline()
    except EmptyStoreError:
        return "<p>Vidensbasen er tom. Kør først: kb ingest</p>"
    if not matters:
        return ("<p>Ingen dokumenter er knyttet til en sag endnu. Skriv <code>matter:</code> og <code>follows:</code> "
                "i dokumenternes metadatafiler (README, Adding documents).</p>")
    parts = []
    for name, steps in matters.items():
        items = "".join(
            f"<li class='kb-step'><div class='kb-step-date'>{_e(s.meta.date or 'udateret')}</div>"
            f"<div><div class='kb-title'>{_e(s.meta.title)}</div><div class='kb-meta'>{_e(s.meta.doc_type)} · "
            f"{_e(s.meta.issuer)}</div><blockquote>»{_e(s.quote)}«</blockquote>"
            f"<div class='kb-file'>Fil: {_e(s.meta.source)}</div></div></li>" for s in steps)
        parts.append(f"<h3>{_e(name)}</h3><ol class='kb-timeline'>{items}</ol>")
    return "\n".join(parts)


def document_types(kb: KnowledgeBase) -> list[str]:
    try:
        return sorted({d.doc_type for d in kb.documents()})
    except EmptyStoreError:
        return []


def issuer_choices(kb: KnowledgeBase) -> list[str]:
    """Each organisation once, under its current name (a renamed one also finds its old documents)."""
    try:
        return kb.issuers()
    except EmptyStoreError:
        return []


def build_app(kb: KnowledgeBase, settings: Settings, feedback: FeedbackStore) -> gr.Blocks:
    limit = RateLimit(settings.app.app_questions_per_minute)

    def respond(question: str, conversation: list[dict], records: list[dict], turns: list[Turn], panels: list,
                types: list[str], date_from: str, date_to: str, issuers: list[str],
                request: gr.Request) -> Iterator[tuple]:
        """Outputs: question box, chat, sources, sources data, case note, 'ask without context' button,
        then the session state (conversation, records, turns, panels, last question)."""
        question = question or ""
        language = detect_language(question)
        turn = len(records) + 1
        if not limit.allow(request.username or request.session_hash or "anonymous"):
            history = conversation + [{"role": "user", "content": as_plain_text(question)},
                                      {"role": "assistant", "content": msg("rate_limited", language,
                                                                           n=limit.per_minute)}]
            panels = panels + [(turn, "", "")]
            yield (question, history, sources_panel(panels), {}, "", gr.update(visible=False),  # the question stays
                   history, records + [{}], turns, panels, question)
            return
        # The conversation lives on the server (session state): the client sends a question and its
        # filters, never a history, so nothing it sends is read as messages or components.
        history = conversation + [{"role": "user", "content": as_plain_text(question)},
                                  {"role": "assistant", "content": f"_{msg('preparing', language)}_"}]
        yield ("", history, gr.update(), {}, "", gr.update(visible=False), history, records, turns, panels, question)
        record: dict = {}
        body, note, follow_up = "", "", False
        try:
            flt = SearchFilter.from_user(types, date_from, date_to, issuers)
            answer = None
            for item in kb.ask_stream(question, history=turns, flt=flt):
                if isinstance(item, str):  # a chat model's draft as it grows; checked when it is complete
                    history[-1] = {"role": "assistant", "content": as_plain_text(item)}
                    yield ("", history, gr.update(), {}, "", gr.update(visible=False), history, records, turns,
                           panels, question)
                else:
                    answer = item
            assert answer is not None
            text, body, note = answer_markdown(answer.text, turn), render_sources(kb, answer, turn, settings.answer.related_floor), \
                case_note(answer)
            if answer.generation is not None and answer.generation.status in ("ok", "repaired"):
                text = f"{text}\n\n_✓ {msg('llm_checked', language)}_"
            follow_up = bool(answer.follow_up and turns)
            if follow_up:  # say which earlier question the answer builds on; one click asks it alone
                text = f"_{msg('follow_up_of', language, previous=as_plain_text(turns[-1].question))}_\n{text}"
            if answer.turn is not None:
                turns = turns + [answer.turn]
            record = answer_record(answer, None, 0.0, flt)
            if answer.question != question:  # the knowledge base masked personal data in it
                text = f"{msg('personal_data', language)}\n\n{text}"
        except KBError as exc:
            text = exc.in_language(language)
        except Exception:
            log.exception("Internal error while answering")  # the question is not logged: it may hold personal data
            text = msg("internal_error", language)
        records = records + [record]
        panels = panels + [(turn, record.get("question", ""), body)]
        state = (history, records, turns, panels, question)
        # Stream the answer line by line: each line is one quoted sentence with its citation number.
        shown = ""
        for line in text.split("\n"):
            shown = f"{shown}\n{line}" if shown else line
            history[-1] = {"role": "assistant", "content": shown}
            yield ("", history, gr.update(), {}, "", gr.update(visible=False), *state)
        data = {"answer": record.get("answer", text), "abstained": record.get("abstained", True),
                "citations": record.get("citations", []), "follow_up": follow_up}
        yield ("", history, sources_panel(panels), data, note, gr.update(visible=follow_up), *state)

    def ask_alone(last_question: str, conversation: list[dict], records: list[dict], turns: list[Turn],
                  panels: list, types: list[str], date_from: str, date_to: str, issuers: list[str],
                  request: gr.Request) -> Iterator[tuple]:
        """The last question again, answered on its own (the conversation starts over from it)."""
        yield from respond(last_question, conversation, records, [], panels, types, date_from, date_to, issuers,
                           request)

    def on_like(records: list[dict], data: gr.LikeData) -> tuple[str, int | None]:
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        turn = int(index) // 2  # messages alternate user, assistant
        record = records[turn] if 0 <= turn < len(records) else {}
        if not record:
            return "Der er ikke noget svar at vurdere her.", None
        rating = 1 if data.liked is True or data.liked == "Like" else -1
        feedback_id = feedback.add(
            rating, record.get("question", ""), record.get("answer", ""), record.get("citations", []),
            {"filters": record.get("filters", {}), "model": kb.embeddings.model_id,
             "abstain_threshold": settings.answer.abstain_threshold, "chunk_size": settings.ingest.chunk_size,
             "confidence": record.get("confidence")})
        return ("Tak for din vurdering. Skriv gerne en kommentar nedenfor." if rating > 0
                else "Tak. Skriv gerne, hvad der var galt med svaret."), feedback_id

    def on_comment(text: str, feedback_id: int | None) -> tuple[str, str]:
        if not feedback_id:
            return "Giv først svaret 👍 eller 👎, og skriv så din kommentar.", text
        if not (text or "").strip():
            return "Skriv en kommentar først.", text
        feedback.comment(feedback_id, text)
        return "Kommentaren er gemt. CPR-numre, telefonnumre, e-mails og almindelige navne er erstattet.", ""

    def clear() -> tuple:
        return [], GUIDE, {}, "", gr.update(visible=False), [], [], [], [], "", None, ""

    with gr.Blocks(title=TITLE) as demo:
        answers = "Svar med **ordrette citater**" if kb.writer is None else \
            "Svar skrevet af en sprogmodel, **kontrolleret mod de citerede kilder**,"
        gr.Markdown(f"# {TITLE}\n{INTRO.format(answers=answers)}", elem_id="kb-intro")
        conversation = gr.State([])  # the messages shown, kept server-side
        records = gr.State([])
        turns = gr.State([])
        panels = gr.State([])  # (answer number, masked question, sources HTML) per answer
        last_question = gr.State("")
        last_feedback = gr.State(None)
        with gr.Tab("Spørg"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=320):
                    chatbot = gr.Chatbot(label="Samtale", height=360, elem_id="kb-chat",
                                         feedback_options=("Like", "Dislike"))
                    question = gr.Textbox(label="Dit spørgsmål", elem_id="kb-question", lines=1,
                                          max_length=settings.answer.max_question_chars * 2,
                                          placeholder="Fx: Hvornår skal afrapporteringen sendes?")
                    with gr.Row():
                        ask_button = gr.Button("Spørg", variant="primary", elem_id="kb-ask")
                        clear_button = gr.Button("Ny samtale")
                        alone_button = gr.Button("Spørg uden sammenhæng", visible=False, elem_id="kb-alone")
                    with gr.Accordion("Kopiér svaret til et journalnotat", open=False):
                        case = gr.Textbox(label="Svaret med kilderne skrevet ud (kopiér med knappen)", lines=8,
                                          interactive=False, buttons=["copy"], elem_id="kb-case-note")
                    with gr.Accordion("Kommentar til din vurdering (tommel op eller ned ved svaret)", open=False):
                        comment = gr.Textbox(label="Kommentar", lines=2, elem_id="kb-comment")
                        comment_button = gr.Button("Gem kommentar")
                    feedback_status = gr.Markdown(elem_id="kb-feedback-status")
                with gr.Column(scale=2, min_width=320):
                    sources = gr.HTML(GUIDE, elem_id="kb-sources")
                    sources_data = gr.JSON(visible=False)
                    gr.Examples(EXAMPLES, inputs=question, label="Eksempler på spørgsmål (klik for at bruge)")
                    with gr.Accordion("Afgræns søgningen", open=False):
                        types = gr.CheckboxGroup(document_types(kb), label="Kun disse dokumenttyper")
                        issuers = gr.CheckboxGroup(issuer_choices(kb), value=[], elem_id="kb-issuers", label=(
                            "Kun disse udgivere (en omdøbt myndighed tæller med sit tidligere navn)"))
                        with gr.Row():
                            date_from = gr.Textbox(label="Fra dato", placeholder="ÅÅÅÅ eller ÅÅÅÅ-MM-DD")
                            date_to = gr.Textbox(label="Til dato", placeholder="ÅÅÅÅ eller ÅÅÅÅ-MM-DD")
        with gr.Tab("Om vidensbasen"):
            gr.Markdown("Vidensbasen kender **kun** disse dokumenter. Spørgsmål om andet (fx lovgivning, "
                        "takster eller lokale forhold, der ikke står her) kan den ikke besvare.")
            documents = gr.HTML(documents_html(kb), elem_id="kb-documents")
            picked = gr.Dropdown(choices=document_sources(kb), value=None, label="Overblik over et dokument",
                                 elem_id="kb-overview-pick")
            overview = gr.HTML("", elem_id="kb-overview")
            picked.change(lambda source: overview_html(kb, source), picked, overview, api_name=False)
        with gr.Tab("Tidslinje"):
            gr.Markdown("Sagernes dokumenter i datoorden, hvert med den sætning der siger hvad det er. Spørg fx "
                        "»Giv mig et overblik over forløbet i sagen«.")
            timeline = gr.HTML(timeline_html(kb), elem_id="kb-timeline")

        filters = [types, date_from, date_to, issuers]
        state = [conversation, records, turns, panels, last_question]
        outputs = [question, chatbot, sources, sources_data, case, alone_button, *state]
        limit_each = settings.app.app_concurrency
        inputs = [question, conversation, records, turns, panels, *filters]
        question.submit(respond, inputs, outputs, api_name="ask", concurrency_limit=limit_each)
        ask_button.click(respond, inputs, outputs, api_name=False, concurrency_limit=limit_each)
        alone_button.click(ask_alone, [last_question, conversation, records, turns, panels, *filters], outputs,
                           api_name=False, concurrency_limit=limit_each)
        chatbot.like(on_like, [records], [feedback_status, last_feedback], api_name=False)
        comment_button.click(on_comment, [comment, last_feedback], [feedback_status, comment], api_name=False)
        clear_button.click(clear, None, [chatbot, sources, sources_data, case, alone_button, *state, last_feedback,
                                         feedback_status], api_name=False)
        demo.load(lambda: (documents_html(kb), timeline_html(kb), gr.update(choices=document_sources(kb)),
                           gr.update(choices=document_types(kb)), gr.update(choices=issuer_choices(kb))), None,
                  [documents, timeline, picked, types, issuers], api_name=False)  # fresh after a re-ingest
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "openai"):  # one line per request, with the endpoint's address
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = get_settings()
    try:
        users = Users.from_settings(settings.app, settings.users_path)
        if (problem := exposure_problem(settings.app, users)) is not None:
            raise SystemExit(f"Chatten starter ikke: {problem}")
        kb = KnowledgeBase(settings)
        if kb.store.count() == 0:
            log.warning("%s", msg("no_store"))
        else:
            kb.warm_up()
    except KBError as exc:  # a setting or a store the operator must fix: the message says which
        raise SystemExit(f"Chatten kan ikke starte: {exc}") from None
    demo = build_app(kb, settings, FeedbackStore(settings.feedback_path))
    demo.queue(default_concurrency_limit=settings.app.app_concurrency)
    import uvicorn

    log.info("Chatten kører på http://%s:%s (%s; stop med Ctrl+C)", settings.app.app_host, settings.app.app_port,
             f"login for {len(users)} bruger(e)" if users else "uden login, kun denne maskine")
    # Open event streams (a browser tab, a client) must not keep a stopped chat alive.
    uvicorn.run(web_app(demo, settings, users), host=settings.app.app_host, port=settings.app.app_port,
                log_level="warning", timeout_graceful_shutdown=5)


def web_app(demo: gr.Blocks, settings: Settings, users: Users):
    """The chat mounted on our own FastAPI app behind ``WebGuard`` (origin check, body limit, security
    headers); login when users are configured; uploads, which the chat never needs, capped at 1 kB."""
    from fastapi import FastAPI

    api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app = gr.mount_gradio_app(api, demo, path="", show_error=False, css=CSS, js=JS, theme=THEME, max_file_size="1kb",
                              auth=users if users else None,
                              auth_message="Log ind med den bruger, du har fået af din administrator.")
    return WebGuard(app, settings.app)


if __name__ == "__main__":
    main()
