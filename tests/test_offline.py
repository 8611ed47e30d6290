"""No code path may reach the network: ingest and a question with every socket connection refused."""
from kb.service import KnowledgeBase

from .conftest import make_settings, network_blocked, run_ingest


def test_ingest_and_ask_with_the_network_blocked(tmp_path, corpus_copy):
    with network_blocked() as attempts:
        kb = KnowledgeBase(make_settings(tmp_path))
        report = run_ingest(kb)
        assert len(report.added) == 5 and not report.failed
        answer = kb.ask("Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?")
        assert not answer.abstained and "31. maj 2025" in answer.text
    assert attempts == []
