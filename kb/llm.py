"""The chat model chosen by settings, as a LangChain chat model, or None when none is configured.

The providers' packages are in the optional ``llm`` extra and imported only here, only when chosen,
so the default install and an offline deployment never load them. ``MODEL_ERRORS`` are the failures
of an endpoint (unreachable, timeout, rate limit, server error, a response that cannot be read):
the caller falls back to the quoted answer on those, while any other exception stays a bug.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Iterator

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessageChunk

from .config import LLMSettings
from .errors import ConfigError

_PACKAGES = {"openai": "langchain_openai", "azure": "langchain_openai", "ollama": "langchain_ollama"}


class MalformedResponse(Exception):
    """The endpoint answered with something that is not a chat completion."""


def _model_errors() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = [TimeoutError, ConnectionError, MalformedResponse]
    if importlib.util.find_spec("httpx"):
        import httpx

        found.append(httpx.HTTPError)
    if importlib.util.find_spec("openai"):
        import openai

        found.append(openai.APIError)  # connection, timeout, 429, 5xx and unreadable responses
    if importlib.util.find_spec("ollama"):
        import ollama

        found.append(ollama.ResponseError)
    return tuple(found)


MODEL_ERRORS = _model_errors()


def stream(model: BaseChatModel, messages: list[tuple[str, str]]) -> Iterator[BaseMessageChunk]:
    """The model's reply in parts. LangChain reports a stream with no chunks in it (a body that is not
    server-sent events) as a ValueError; here it is the endpoint's failure it is."""
    try:
        yield from model.stream(messages)
    except ValueError as exc:
        if "generation chunks" not in str(exc):
            raise
        raise MalformedResponse("no chat completion in the response") from None


def build_chat_model(settings: LLMSettings) -> BaseChatModel | None:
    """The configured chat model (temperature, timeout, token limit and bounded retries applied)."""
    provider = settings.llm_provider
    if provider == "none":
        return None
    if importlib.util.find_spec(_PACKAGES[provider]) is None:
        raise ConfigError(f"KB_LLM_PROVIDER={provider} kræver sprogmodel-pakkerne: pip install -e \".[llm]\".")
    if not settings.llm_model:
        raise ConfigError(f"KB_LLM_PROVIDER={provider} kræver KB_LLM_MODEL (modellens eller deploymentens navn).")
    key = settings.llm_api_key.get_secret_value()
    common = {"temperature": settings.llm_temperature, "max_retries": settings.llm_max_retries}
    if provider == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(model=settings.llm_model, base_url=settings.llm_base_url or None,
                          temperature=settings.llm_temperature, num_predict=settings.llm_max_tokens,
                          client_kwargs={"timeout": settings.llm_timeout})
    if not settings.llm_base_url:
        raise ConfigError(f"KB_LLM_PROVIDER={provider} kræver KB_LLM_BASE_URL (endpointets adresse).")
    if provider == "azure":
        from langchain_openai import AzureChatOpenAI

        return AzureChatOpenAI(azure_endpoint=settings.llm_base_url, azure_deployment=settings.llm_model,
                               api_version=settings.llm_api_version, api_key=key or None,
                               timeout=settings.llm_timeout, max_tokens=settings.llm_max_tokens, **common)
    from langchain_openai import ChatOpenAI

    # A local server often wants no key; the client insists on one, so a placeholder is sent.
    return ChatOpenAI(base_url=settings.llm_base_url, model=settings.llm_model, api_key=key or "not-needed",
                      timeout=settings.llm_timeout, max_tokens=settings.llm_max_tokens, stream_usage=True, **common)


def describe(settings: LLMSettings) -> str:
    """What `kb info` and records may say about the model: provider and model name, never the key."""
    return "none" if settings.llm_provider == "none" else f"{settings.llm_provider}:{settings.llm_model}"
