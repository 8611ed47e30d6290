"""Model-written answers that stay ours: the extractive answerer decides first whether the sources
answer at all, the model writes from numbered sources only, and validation decides what is shown.

Stages, in order: ask the model only if the quoted answer did not abstain -> stream the draft ->
validate every sentence against the sources it cites -> show it (ok), without the failing
sentences and with a note (repaired), or the quoted answer instead (fallback, or unavailable when
the endpoint failed). An answer saying the sources are silent is shown as an abstention.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from langchain_core.language_models import BaseChatModel

from .config import LLMSettings
from .conversation import Condenser, Resolution
from .llm import MODEL_ERRORS, stream
from .messages import msg
from .prompts import PROMPT_ID, condense_messages, grounded_messages
from .text import words
from .types import Answer, Citation, Generation, Hit, Query, Turn
from .validate import Sentence, is_abstention, validate

log = logging.getLogger(__name__)
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-ZÆØÅ])")


def failure_kind(exc: BaseException) -> str:
    """What went wrong with the endpoint, by the exception's kind (the message may hold a URL or key)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"RateLimitError"}:
        return "rate_limit"
    if names & {"APITimeoutError", "TimeoutError", "TimeoutException", "ReadTimeout"}:
        return "timeout"
    if names & {"InternalServerError", "APIStatusError", "HTTPStatusError", "ResponseError"}:
        return "server_error"
    if names & {"APIConnectionError", "ConnectionError", "ConnectError", "TransportError"}:
        return "unreachable"
    return "malformed"  # MalformedResponse, or a body the client could not read


class GroundedAnswerer:
    def __init__(self, model: BaseChatModel, settings: LLMSettings, model_name: str) -> None:
        self.model, self.settings, self.model_name = model, settings, model_name

    def stream(self, query: Query, hits: list[Hit], quoted: Answer) -> Iterator[str | Answer]:
        """The draft as it grows (strings), then the final Answer."""
        if quoted.abstained:  # abstention is decided by the check, before any model is asked
            quoted.generation = self._generation("not_asked")
            yield quoted
            return
        sources = hits[:self.settings.llm_sources]
        draft, tokens = "", (0, 0)
        try:
            for part in stream(self.model, grounded_messages(query.question, sources, query.language)):
                text = part.content if isinstance(part.content, str) else ""
                draft += text
                usage = getattr(part, "usage_metadata", None)
                if usage:
                    tokens = (tokens[0] + usage.get("input_tokens", 0), tokens[1] + usage.get("output_tokens", 0))
                if text:
                    yield draft
        except MODEL_ERRORS as exc:
            kind = failure_kind(exc)
            log.warning("Chat model failed (%s); the quoted answer is shown", kind)
            yield self._quoted(quoted, self._generation("unavailable", error=kind, draft=draft),
                               msg("llm_unavailable", query.language, reason=kind))
            return
        yield self._finish(query, sources, quoted, draft, tokens)

    def _finish(self, query: Query, sources: list[Hit], quoted: Answer, draft: str,
                tokens: tuple[int, int]) -> Answer:
        check = validate(draft, sources)
        problems = [p.record() for p in check.problems]
        common = dict(tokens_in=tokens[0], tokens_out=tokens[1], draft=draft, problems=problems)
        if check.abstained:
            quoted.abstained, quoted.citations = True, []
            quoted.text, quoted.abstain_reason = msg("abstain", query.language), "model_abstained"
            quoted.generation = self._generation("abstained", **common)
            return quoted
        kept = check.kept
        if not kept:
            return self._quoted(quoted, self._generation("fallback", **common), msg("llm_fallback", query.language))
        text, citations = _renumbered(kept, sources)
        dropped = len(check.sentences) - len(kept)
        if dropped:
            text += "\n" + msg("llm_dropped", query.language, n=dropped)
        status = "repaired" if check.problems else "ok"
        quoted.text, quoted.citations = text, citations
        quoted.generation = self._generation(status, dropped=dropped, **common)
        return quoted

    def _quoted(self, quoted: Answer, generation: Generation, notice: str) -> Answer:
        quoted.text = f"{notice}\n{quoted.text}"
        quoted.generation = generation
        return quoted

    def _generation(self, status: str, **values) -> Generation:
        return Generation(prompt_id=PROMPT_ID, model=self.model_name, status=status, **values)

    def condense(self, question: str, turns: list[Turn]) -> str | None:
        """A follow-up rewritten as a standalone question, or None if the model failed."""
        try:
            reply = self.model.invoke(condense_messages(question, [t.question for t in turns[-3:]]))
        except MODEL_ERRORS as exc:
            log.warning("Chat model failed while condensing (%s); the rules are used", failure_kind(exc))
            return None
        text = reply.content.strip() if isinstance(reply.content, str) else ""
        line = text.splitlines()[0].strip() if text else ""
        # A rewrite is a question of about the same length, not an answer or a refusal.
        return line if line and len(line) < 4 * len(question) + 200 and not is_abstention(line) else None


def _renumbered(kept: list[Sentence], sources: list[Hit]) -> tuple[str, list[Citation]]:
    """The kept sentences with their sources numbered 1, 2 … in order of first use, and one citation
    per source: the sentences of its passage the claims rest on."""
    order: dict[int, int] = {}
    for sentence in kept:
        for n in sentence.cites:
            order.setdefault(n, len(order) + 1)
    # One sentence a line, its citations at the end, as the quoted answer is laid out.
    lines = [f"{s.claim} " + "".join(f"[{order[n]}]" for n in s.cites) for s in kept]
    citations = []
    for original, number in order.items():
        chunk = sources[original - 1].chunk
        claims = " ".join(s.claim for s in kept if original in s.cites)
        citations.append(Citation(number=number, chunk_id=chunk.chunk_id, source=chunk.meta.source,
                                  title=chunk.meta.title, doc_type=chunk.meta.doc_type, date=chunk.meta.date,
                                  section=chunk.section, text=_support(chunk.text, claims), passage=chunk.text))
    return "\n".join(lines), citations


def _support(passage: str, claims: str) -> str:
    """The sentence of the passage sharing most words with the claims (and the next one if it shares
    as many): the exact text a citation shows."""
    wanted = {w.lower() for w in words(claims) if len(w) > 3}
    parts = [p.strip() for p in _SPLIT.split(passage) if p.strip()]
    if not parts:
        return passage
    overlap = [len(wanted & {w.lower() for w in words(p)}) for p in parts]
    best = max(range(len(parts)), key=lambda i: (overlap[i], -i))
    return parts[best]


class LLMCondenser:
    """A ``Condenser`` that asks the model for a standalone question when there is a conversation,
    and keeps the rules' reading when the model fails or there is none."""

    def __init__(self, writer: GroundedAnswerer, rules: Condenser) -> None:
        self.writer, self.rules = writer, rules

    def __call__(self, question: str, turns) -> Resolution:
        rules = self.rules(question, turns)
        if not turns:
            return rules
        standalone = self.writer.condense(question, list(turns))
        if not standalone or standalone.strip().lower() == question.strip().lower():
            return rules
        return Resolution(text=standalone, focus=question, follow_up=True, context=turns[-1].cited)
