"""The CLI and the eval record contract, checked with the shared contract checker."""
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from .conftest import ROOT, SHARED


@pytest.fixture
def cli_env(corpus_kb, kb_env):
    kb_env(data_dir=corpus_kb.settings.data_dir, corpus_dir=corpus_kb.settings.corpus_dir)


def test_ask_json_prints_one_contract_record(cli_env):
    from kb import cli

    result = CliRunner().invoke(cli.app, ["ask", "--json", "Hvad er formålet med forløbsbeskrivelsen?"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["citations"] and not record["abstained"]
    assert len(record["retrieved"]) >= 10


def test_ask_prints_sources(cli_env):
    from kb import cli

    result = CliRunner().invoke(cli.app, ["ask", "Hvornår skal afrapporteringen sendes?"])
    assert result.exit_code == 0
    assert "[1]" in result.stdout and "Kilder" in result.stdout


def test_info_lists_documents(cli_env):
    from kb import cli

    result = CliRunner().invoke(cli.app, ["info"])
    assert result.exit_code == 0
    assert "Tekststykker: " in result.stdout and "forløbsbeskrivelse" in result.stdout


@pytest.mark.skipif(not (SHARED / "tools" / "check_eval_records.py").exists(), reason="../shared is not beside the repo")
def test_eval_records_pass_the_shared_contract_checker(cli_env, tmp_path):
    from kb import cli

    questions = ROOT / "evals" / "questions" / "dev.jsonl"
    out = tmp_path / "records.jsonl"
    result = CliRunner().invoke(cli.app, ["eval", "--questions", str(questions), "--out", str(out)])
    assert result.exit_code == 0, result.output
    check = subprocess.run([sys.executable, str(SHARED / "tools" / "check_eval_records.py"), str(questions),
                            str(out), str(ROOT / "corpus")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert " 0 problems" in check.stdout


def test_eval_check_rejects_evidence_not_in_the_corpus(cli_env, tmp_path):
    from kb import cli

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "question": "?", "answerable": True,
                               "evidence": ["denne tekst står ikke i korpus"]}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli.app, ["eval", "check", str(bad), "--corpus", str(ROOT / "corpus")])
    assert result.exit_code == 1
    good = CliRunner().invoke(cli.app, ["eval", "check", str(ROOT / "evals" / "questions" / "dev.jsonl")])
    assert good.exit_code == 0, good.output


def test_eval_on_an_empty_store_ingests_first_and_records_every_question(tmp_path, kb_env):
    import shutil

    from kb import cli

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps({"id": f"q{i}", "question": q}) for i, q in
                                   enumerate(["Hvornår skal afrapporteringen sendes?", ""])) + "\n", encoding="utf-8")
    kb_env(data_dir=tmp_path / "data", corpus_dir=corpus)
    out = tmp_path / "r.jsonl"
    result = CliRunner().invoke(cli.app, ["eval", "--questions", str(questions), "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["q0", "q1"]
    assert not records[0]["abstained"] and records[1]["abstained"] and records[1]["error"]


def test_ask_json_records_the_filters_and_refuses_impossible_dates(cli_env):
    from kb import cli

    result = CliRunner().invoke(cli.app, ["ask", "--json", "--from", "maj 2022", "--type", "anmodning",
                                          "Hvornår skal afrapporteringen sendes?"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["filters"] == {"doc_types": ["anmodning"], "date_from": "2022-05", "date_to": ""}
    by_issuer = CliRunner().invoke(cli.app, ["ask", "--json", "--issuer", "Social- og Boligstyrelsen",
                                             "Hvornår skal afrapporteringen sendes?"])
    record = json.loads(by_issuer.stdout)
    assert record["filters"]["issuers"] == ["Social- og Boligstyrelsen"] and record["citations"]
    assert {c["source"] for c in record["citations"]} <= {"000_89ee3ec64a4a8cd6.txt", "001_8c99ea295e75401a.txt",
                                                            "002_30283580c0489ba7.txt", "003_8a57807346003733.txt"}
    bad = CliRunner().invoke(cli.app, ["ask", "--from", "2025-13-45", "Hvornår skal afrapporteringen sendes?"])
    assert bad.exit_code == 1 and "2025-13-45" in bad.output and "kan ikke læses" in bad.output


def test_cli_prints_document_text_verbatim(tmp_path, kb_env):
    """No rich markup, no emoji codes: ':x:' stays ':x:' and '[bold]' stays '[bold]'."""
    from kb import cli

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    line = "Nøglen til arkivskabet hedder root:x:0:0 og ligger i [bold]skuffen[/bold] med *stjerner* og <b>fed</b> skrift."
    (corpus / "noegle.txt").write_text(f"Arkivets nøgle\n\n{line}\n", encoding="utf-8")
    kb_env(data_dir=tmp_path / "data", corpus_dir=corpus)
    assert CliRunner().invoke(cli.app, ["ingest"]).exit_code == 0
    result = CliRunner().invoke(cli.app, ["ask", "Hvad hedder nøglen til arkivskabet?"])
    assert result.exit_code == 0, result.output
    assert "root:x:0:0" in result.stdout and "[bold]skuffen[/bold]" in result.stdout and "<b>fed</b>" in result.stdout


def test_ask_as_a_journal_note_writes_each_citation_out(cli_env):
    """`kb ask --format text`: question, answer without markup, and every source with title, type,
    date, section and the exact quote, as a caseworker pastes it into a case."""
    from kb.cli import app

    question = "Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?"
    result = CliRunner().invoke(app, ["ask", "--format", "text", question])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Spørgsmål: {question}" and "**" not in result.stdout
    assert "31. maj 2025" in lines[2] and "Kilder:" in lines
    source = lines[lines.index("Kilder:") + 1]
    assert source.startswith("[1] ") and "sagsfremstilling, 2025-05-15, afsnit:" in source
    quote = lines[lines.index("Kilder:") + 2].strip()
    assert quote.startswith("»") and quote.endswith("«") and "31. maj 2025" in quote
    markdown = CliRunner().invoke(app, ["ask", "--format", "markdown", question]).stdout
    assert markdown.startswith("**Spørgsmål**:") and "**31. maj 2025**" in markdown
    assert CliRunner().invoke(app, ["ask", "--format", "pdf", question]).exit_code != 0
