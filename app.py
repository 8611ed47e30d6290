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
from kb.records import answer_record
from kb.service import KnowledgeBase
from kb.text import detect_language
from kb.types import Answer, SearchFilter, Turn
from kb.web import RateLimit, Users, WebGuard, exposure_problem

log = logging.getLogger("kb.app")

TITLE = "Vidensbase om udsatte gravide med rusmiddelforbrug"
INTRO = (
    "Stil spørgsmål til forløbsbeskrivelser, centrale udmeldinger, anmodninger og sagsfremstillinger. "
    "Svaret består af **ordrette citater** fra dokumenterne med nummererede kildehenvisninger, så du kan "
    "tjekke dem. Står svaret ikke i dokumenterne, siger vidensbasen det i stedet for at gætte.\n\n"
    "⚠️ **Skriv ikke personoplysninger** i chatten. Gør du det alligevel, erstattes CPR-numre, telefonnumre, "
    "e-mailadresser og almindelige danske for- og efternavne med [CPR], [TELEFON], [EMAIL] og [NAVN], før "
    "spørgsmålet søges eller gemmes. Andre oplysninger, fx adresser, sjældne navne eller helbredsoplysninger, "
    "kan den ikke genkende."
)
EXAMPLES = [
    "Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?",
    "Hvem er målgruppen for den centrale udmelding?",
    "Hvem er de centrale aktører i indsatsen til udsatte gravide?",
    "Hvad anbefaler forløbsbeskrivelsen om støtte efter fødslen?",
    "Hvilke kvinder er ikke omfattet af målgruppen?",
]
CSS = """
.kb-source {border-left: 4px solid var(--color-accent); padding: 6px 10px; margin: 10px 0;}
.kb-source blockquote {margin: 6px 0; font-style: italic;}
.kb-source mark {background: #fff3a3; color: inherit;}
.kb-source mark.kb-fact {font-weight: 600;}
.kb-doc {white-space: pre-wrap; font-size: 0.92em; max-height: 420px; overflow-y: auto;}
.kb-doc .kb-focus {background: rgba(255, 243, 163, 0.35);}
.kb-meta {color: var(--body-text-color-subdued); font-size: 0.9em;}
"""


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
_LINE = re.compile(r"^(?P<bold>\*\*)?(?P<body>.*?)(?P=bold)?(?P<refs>(?: ?\[\d+\])*)$")


def answer_markdown(text: str) -> str:
    """The answer for the chat bubble: each quoted line exactly as in the document (HTML, markdown
    and emoji codes in it are shown, not rendered); only our own parts, the bold asked-for fact and
    the citation numbers, are markup."""
    lines = []
    for line in text.split("\n"):
        parts = _LINE.match(line)
        body = _QUOTED_MARKUP.sub(r"\\\1", html.escape(parts["body"], quote=False))
        lines.append(f"**{body}**{parts['refs']}" if parts["bold"] else f"{body}{parts['refs']}")
    return "\n".join(lines)


def _meta_line(doc_type: str, date: str, section: str) -> str:
    parts = [doc_type or "ukendt type", date or "udateret"] + ([section] if section else [])
    return " · ".join(_e(p) for p in parts)


def render_sources(kb: KnowledgeBase, answer: Answer) -> str:
    """The sources panel: each citation with its document facts, the quote, and an expandable view of
    the passage in its surrounding text with the quoted sentence highlighted."""
    if answer.error:
        return ""
    if answer.citations:
        parts = ["<h3>Kilder</h3>"]
        for c in answer.citations:
            doc_view = []
            for chunk in kb.neighbours(c.chunk_id) or []:
                body = _e(chunk.text)
                if chunk.chunk_id == c.chunk_id:
                    marked = f"<mark>{_quote(c.text, c.fact)}</mark>"
                    body = f"<div class='kb-focus'>{body.replace(_e(c.text), marked, 1)}</div>"
                doc_view.append(body)
            parts.append(
                f"<div class='kb-source' data-citation='{c.number}'>"
                f"<b>[{c.number}] {_e(c.title)}</b><br><span class='kb-meta'>{_meta_line(c.doc_type, c.date, c.section)}"
                f" · {_e(c.source)}</span><blockquote>»{_quote(c.text, c.fact)}«</blockquote>"
                f"<details><summary>Vis i dokumentet</summary><div class='kb-doc'>{'<hr>'.join(doc_view)}</div>"
                f"</details></div>")
        return "\n".join(parts)
    if not answer.hits:
        return ""
    items = [f"<li><b>{_e(h.chunk.meta.title)}</b><br><span class='kb-meta'>"
             f"{_meta_line(h.chunk.meta.doc_type, h.chunk.meta.date, h.chunk.section)}</span>"
             f"<br>{_e(h.chunk.text[:280])}…</li>" for h in answer.hits[:3]]
    return f"<h3>{_e(msg('maybe_relevant', answer.language))}</h3><ul>{''.join(items)}</ul>"


def documents_table(kb: KnowledgeBase) -> list[list]:
    try:
        return [[d.title, d.doc_type, d.date, d.issuer, d.chunks, d.source] for d in kb.documents()]
    except EmptyStoreError:
        return []


def build_app(kb: KnowledgeBase, settings: Settings, feedback: FeedbackStore) -> gr.Blocks:
    doc_types = sorted({row[1] for row in documents_table(kb)})
    limit = RateLimit(settings.app.app_questions_per_minute)

    def respond(question: str, conversation: list[dict], records: list[dict], turns: list[Turn], types: list[str],
                date_from: str, date_to: str, request: gr.Request) -> Iterator[tuple]:
        question = question or ""
        language = detect_language(question)
        if not limit.allow(request.username or request.session_hash or "anonymous"):
            history = conversation + [{"role": "user", "content": as_plain_text(question)},
                                      {"role": "assistant", "content": msg("rate_limited", language,
                                                                           n=limit.per_minute)}]
            yield question, history, history, records + [{}], turns, "", {}  # the question stays in the box
            return
        # The conversation lives on the server (session state): the client sends a question and its
        # filters, never a history, so nothing it sends is read as messages or components.
        history = conversation + [{"role": "user", "content": as_plain_text(question)},
                                  {"role": "assistant", "content": ""}]
        record: dict = {}
        sources = ""
        try:
            flt = SearchFilter.from_user(types, date_from, date_to)
            answer = kb.ask(question, history=turns, flt=flt)
            text, sources = answer_markdown(answer.text), render_sources(kb, answer)
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
        # Stream the answer line by line: each line is one quoted sentence with its citation number.
        shown = ""
        for line in text.split("\n"):
            shown = f"{shown}\n{line}" if shown else line
            history[-1] = {"role": "assistant", "content": shown}
            yield "", history, history, records, turns, "", {}
        yield "", history, history, records, turns, sources, {"answer": text,
                                                              "abstained": record.get("abstained", True),
                                                              "citations": record.get("citations", [])}

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
        return [], [], [], [], "", {}, None, ""

    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        conversation = gr.State([])  # the messages shown, kept server-side
        records = gr.State([])
        turns = gr.State([])
        last_feedback = gr.State(None)
        with gr.Tab("Spørg"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=320):
                    chatbot = gr.Chatbot(label="Samtale", height=460, elem_id="kb-chat",
                                         feedback_options=("Like", "Dislike"))
                    question = gr.Textbox(label="Dit spørgsmål", elem_id="kb-question", lines=1,
                                          max_length=settings.answer.max_question_chars * 2,
                                          placeholder="Fx: Hvornår skal afrapporteringen sendes?")
                    with gr.Row():
                        ask_button = gr.Button("Spørg", variant="primary", elem_id="kb-ask")
                        clear_button = gr.Button("Ny samtale")
                    gr.Examples(EXAMPLES, inputs=question, label="Eksempler på spørgsmål (klik for at bruge)")
                    with gr.Accordion("Afgræns søgningen", open=False):
                        types = gr.CheckboxGroup(doc_types, label="Kun disse dokumenttyper")
                        with gr.Row():
                            date_from = gr.Textbox(label="Fra dato", placeholder="ÅÅÅÅ eller ÅÅÅÅ-MM-DD")
                            date_to = gr.Textbox(label="Til dato", placeholder="ÅÅÅÅ eller ÅÅÅÅ-MM-DD")
                    with gr.Accordion("Kommentar til din vurdering (tommel op eller ned ved svaret)", open=False):
                        comment = gr.Textbox(label="Kommentar", lines=2, elem_id="kb-comment")
                        comment_button = gr.Button("Gem kommentar")
                    feedback_status = gr.Markdown(elem_id="kb-feedback-status")
                with gr.Column(scale=2, min_width=320):
                    sources = gr.HTML(elem_id="kb-sources")
                    sources_data = gr.JSON(visible=False)
        with gr.Tab("Om vidensbasen"):
            gr.Markdown("Vidensbasen kender **kun** disse dokumenter. Spørgsmål om andet (fx lovgivning, "
                        "takster eller lokale forhold, der ikke står her) kan den ikke besvare.")
            documents = gr.Dataframe(value=documents_table(kb), interactive=False, wrap=True,
                                     headers=["Titel", "Type", "Dato", "Udgiver", "Tekststykker", "Fil"])

        inputs = [question, conversation, records, turns, types, date_from, date_to]
        outputs = [question, chatbot, conversation, records, turns, sources, sources_data]
        question.submit(respond, inputs, outputs, api_name="ask", concurrency_limit=settings.app.app_concurrency)
        ask_button.click(respond, inputs, outputs, api_name=False, concurrency_limit=settings.app.app_concurrency)
        chatbot.like(on_like, [records], [feedback_status, last_feedback], api_name=False)
        comment_button.click(on_comment, [comment, last_feedback], [feedback_status, comment], api_name=False)
        clear_button.click(clear, None, [chatbot, conversation, records, turns, sources, sources_data, last_feedback,
                                         feedback_status], api_name=False)
        demo.load(lambda: documents_table(kb), None, documents, api_name=False)  # fresh after a re-ingest
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
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
    app = gr.mount_gradio_app(api, demo, path="", show_error=False, css=CSS, max_file_size="1kb",
                              auth=users if users else None,
                              auth_message="Log ind med den bruger, du har fået af din administrator.")
    return WebGuard(app, settings.app)


if __name__ == "__main__":
    main()
