"""Settings in sections: flat KB_* names still work, choices are checked at start-up, defaults live once."""
import pytest

from kb.config import SECTIONS, Settings, load_settings
from kb.errors import ConfigError


def test_flat_variables_reach_their_section(monkeypatch, tmp_path):
    monkeypatch.setenv("KB_CANDIDATES", "30")
    monkeypatch.setenv("KB_FUSION", "rrf")
    monkeypatch.setenv("KB_CHUNK_SIZE", "800")
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    s = load_settings()
    assert (s.retrieval.candidates, s.retrieval.fusion, s.ingest.chunk_size) == (30, "rrf", 800)
    assert s.data_dir == tmp_path and s.retrieval.top_k == 10  # untouched fields keep their default


def test_a_value_outside_the_choices_is_refused_with_its_variable(monkeypatch):
    monkeypatch.setenv("KB_EMBEDDING_RUNTIME", "gpu")
    with pytest.raises(ConfigError, match="KB_EMBEDDING_RUNTIME"):
        load_settings()


def test_override_finds_the_section_and_refuses_unknown_names():
    s = Settings().override(chunk_size=500, dense_weight=1.0, log_level="DEBUG")
    assert (s.ingest.chunk_size, s.retrieval.dense_weight, s.log_level) == (500, 1.0, "DEBUG")
    assert Settings().ingest.chunk_size == 600  # a copy, not a change
    with pytest.raises(TypeError):
        Settings().override(chunk_sise=500)


def test_every_setting_has_a_description_and_one_home():
    names = [name for model in SECTIONS.values() for name in model.model_fields]
    assert len(names) == len(set(names))  # a flat KB_ name maps to exactly one section
    assert all(field.description for model in SECTIONS.values() for field in model.model_fields.values())
