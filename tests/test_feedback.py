import csv
import io
import json

from typer.testing import CliRunner

from kb.feedback import FeedbackStore


def test_feedback_is_stored_masked_and_exported(tmp_path, kb_env):
    store = FeedbackStore(tmp_path / "data" / "feedback.sqlite")
    fid = store.add(1, "Min borger 010190-1234 spørger: hvornår er fristen?", "Senest den 31. maj 2025 [1]",
                    [{"title": "Anmodning", "text": "senest den 31. maj 2025"}], {"filters": {"doc_types": []}})
    store.comment(fid, "Ring til mig på 12345678")
    store.add(-1, "Hvad koster det?", "Det kan jeg ikke finde i dokumenterne.", [], {})
    rows = store.rows()
    assert [r["rating"] for r in rows] == [1, -1]
    assert "010190-1234" not in rows[0]["question"] and "[CPR]" in rows[0]["question"]
    assert rows[0]["comment"] == "Ring til mig på [TELEFON]"

    from kb import cli

    kb_env(data_dir=tmp_path / "data")
    as_csv = CliRunner().invoke(cli.app, ["feedback", "export", "--format", "csv"])
    assert as_csv.exit_code == 0
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(parsed) == 2 and parsed[1]["rating"] == "-1"
    as_jsonl = CliRunner().invoke(cli.app, ["feedback", "export", "--format", "jsonl"])
    first = json.loads(as_jsonl.stdout.splitlines()[0])
    assert first["citations"][0]["title"] == "Anmodning" and first["settings"]["filters"] == {"doc_types": []}
    bad = CliRunner().invoke(cli.app, ["feedback", "export", "--format", "xml"])
    assert bad.exit_code != 0


def test_csv_export_cannot_run_as_a_spreadsheet_formula(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    fid = store.add(-1, "=1+1", "svar", [], {})
    store.comment(fid, '=HYPERLINK("http://evil.example","klik")')
    store.add(1, "@SUM(A1)", "+svar", [], {})
    rows = list(csv.DictReader(io.StringIO(store.export("csv"))))
    assert rows[0]["comment"].startswith("'=HYPERLINK") and rows[0]["question"] == "'=1+1"
    assert rows[1]["question"] == "'@SUM(A1)" and rows[1]["answer"] == "'+svar"
    exact = [json.loads(line) for line in store.export("jsonl").splitlines()]
    assert exact[0]["comment"] == '=HYPERLINK("http://evil.example","klik")'  # JSONL stays exact
