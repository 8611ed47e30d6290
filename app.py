"""The Gradio chat: it calls ``kb`` for everything and holds no retrieval logic of its own."""
from __future__ import annotations

import html
import logging

import gradio as gr

from kb.config import Settings, get_settings
from kb.messages import msg
from kb.service import EmptyStoreError, KnowledgeBase
from kb.types import Answer

log = logging.getLogger("kb.app")

TITLE = "Vidensbase: udsatte gravide med rusmiddelforbrug"
INTRO = ("Stil spørgsmål til vejledninger, centrale udmeldinger og sagsfremstillinger. Svarene er citater "
         "fra dokumenterne med kildehenvisning. **Skriv ikke personoplysninger (fx CPR-numre) i chatten.**")


def render_sources(answer: Answer) -> str:
    """The sources panel as HTML: each citation with its document facts and the quoted passage."""
    if answer.error:
        return ""
    if answer.citations:
        parts = ["<h3>Kilder</h3>"]
        for c in answer.citations:
            passage = html.escape(c.passage).replace(html.escape(c.text), f"<mark>{html.escape(c.text)}</mark>")
            parts.append(
                f"<div class='kb-source'><b>[{c.number}] {html.escape(c.title)}</b><br>"
                f"<small>{html.escape(c.doc_type)} · {html.escape(c.date or 'udateret')}"
                f"{' · ' + html.escape(c.section) if c.section else ''}</small>"
                f"<blockquote>»{html.escape(c.text)}«</blockquote>"
                f"<details><summary>Vis i sammenhæng</summary><p style='white-space:pre-wrap'>{passage}</p>"
                f"</details></div>")
        return "\n".join(parts)
    heading = msg("maybe_relevant", answer.language)
    items = [f"<li><b>{html.escape(h.chunk.meta.title)}</b>"
             f"{' – ' + html.escape(h.chunk.section) if h.chunk.section else ''}<br>"
             f"<small>{html.escape(h.chunk.text[:300])}…</small></li>" for h in answer.hits[:3]]
    return f"<h3>{heading}</h3><ul>{''.join(items)}</ul>" if items else ""


def build_app(kb: KnowledgeBase, settings: Settings) -> gr.Blocks:
    def respond(question: str, history: list[dict]):
        previous = [m["content"] if isinstance(m["content"], str) else " ".join(
            p.get("text", "") for p in m["content"] if isinstance(p, dict)) for m in history if m["role"] == "user"]
        try:
            answer = kb.ask(question, history=previous)
            text, sources = answer.text, render_sources(answer)
        except EmptyStoreError as exc:
            text, sources = str(exc), ""
        except Exception:
            log.exception("Internal error while answering")
            text, sources = msg("internal_error"), ""
        history = history + [{"role": "user", "content": question}, {"role": "assistant", "content": text}]
        return "", history, sources

    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        chatbot = gr.Chatbot(label="Samtale", height=420)
        question = gr.Textbox(label="Dit spørgsmål", placeholder="Fx: Hvornår skal afrapporteringen sendes?")
        sources = gr.HTML(label="Kilder")
        question.submit(respond, [question, chatbot], [question, chatbot, sources], api_name="ask",
                        concurrency_limit=settings.app_concurrency)
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    settings = get_settings()
    kb = KnowledgeBase(settings)
    if kb.store.count() == 0:
        log.warning(msg("no_store"))
    demo = build_app(kb, settings)
    demo.queue(default_concurrency_limit=settings.app_concurrency)
    demo.launch(server_name=settings.app_host, server_port=settings.app_port, show_error=False)


if __name__ == "__main__":
    main()
