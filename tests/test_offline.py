"""No code path may reach the network: ingest and a question with every socket connection refused."""
import socket

import pytest

from kb.service import KnowledgeBase

from .conftest import make_settings, run_ingest


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise NetworkBlocked(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_ingest_and_ask_with_the_network_blocked(tmp_path, corpus_copy, no_network):
    kb = KnowledgeBase(make_settings(tmp_path))
    report = run_ingest(kb)
    assert len(report.added) == 5 and not report.failed
    answer = kb.ask("Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?")
    assert not answer.abstained and "31. maj 2025" in answer.text
    assert no_network == []
