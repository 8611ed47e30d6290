"""Issue 15, item 9 (short form for CI): simultaneous chat users through gradio_client against the real
app on loopback while `kb ingest` re-ingests again and again. The full run (20 users, 60 s) is
`python -m evals.load`, documented in the README with its figures."""
from __future__ import annotations

from evals.load import run_load


def test_users_are_answered_from_the_old_or_the_new_state_while_ingests_run(corpus_kb, tmp_path):
    result = run_load(corpus_kb.settings.data_dir, corpus_kb.settings.corpus_dir, users=5, seconds=12, work=tmp_path)
    print(result.table())
    assert result.ingest_failures == [] and len(result.ingests) >= 1
    assert result.errors == [], result.errors[:3]
    assert result.answers and result.mixed == [], result.mixed[:3]
    assert result.state_a != result.state_b  # the re-ingest changed an answer, so the check means something
