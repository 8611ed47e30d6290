"""Load test: simultaneous chat users against the real app on loopback while `kb ingest` re-ingests.

    python -m evals.load [--users 20] [--seconds 60] [--out evals/reports/load.md]

Copies the store in KB_DATA_DIR and the corpus in KB_CORPUS_DIR to a temporary folder, starts
``app.py`` on a free loopback port, and asks each question once (state A). Then ``--users`` clients
(gradio_client; each question opens a new conversation, so it is never read as a follow-up and its
answer can be compared) ask questions in a loop for ``--seconds`` while a second process
keeps re-ingesting: one document is switched between its original text and a version with an added
paragraph (state B), one `kb ingest` after another. Afterwards the questions are asked in state B.
Every answer given under load must be the state-A or the state-B answer to its question (no mixed
or half-written state), and no call may fail. Prints and writes a table; exit status 1 on a failure.
Only wall-clock figures are reported; nothing here asserts on time.

    python -m evals.load --throughput 1 4 8 16 [--concurrency 1 2 4 8] [--seconds 20] [--data DIR]

measures answers per second instead: for each chat concurrency limit (KB_APP_CONCURRENCY) the app is
started once on a copy of the data folder, and 1, 4, 8 and 16 users ask in a loop for ``--seconds``
each, with no ingest running.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?",
    "Hvem er målgruppen for den centrale udmelding?",
    "Hvem er de centrale aktører i indsatsen til udsatte gravide?",
    "Hvilke kvinder er ikke omfattet af målgruppen?",
    "Hvor mange gravide har et skadeligt forbrug af rusmidler hvert år?",
    "Hvordan evalueres den tværfaglige indsats for gravide med rusmiddelforbrug lokalt?",
]
# Appended to the first document for state B: it answers the last question, which state A does not.
ADDED = ("\n\nLokal evaluering\n\nDen tværfaglige indsats for gravide med rusmiddelforbrug evalueres lokalt "
         "hvert andet år af kommunens familieafdeling sammen med familieambulatoriet.\n")
INTERNAL_ERROR = "der opstod en fejl"


@dataclass
class LoadResult:
    users: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    answers: list[tuple[str, str]] = field(default_factory=list)  # (question, answer text)
    ingests: list[float] = field(default_factory=list)  # seconds each
    ingest_failures: list[str] = field(default_factory=list)
    state_a: dict[str, str] = field(default_factory=dict)
    state_b: dict[str, str] = field(default_factory=dict)

    @property
    def mixed(self) -> list[tuple[str, str]]:
        return [(q, a) for q, a in self.answers if a not in (self.state_a[q], self.state_b[q])]

    @property
    def ok(self) -> bool:
        return bool(self.answers) and not self.errors and not self.mixed and not self.ingest_failures \
            and bool(self.ingests)

    def table(self) -> str:
        lat = sorted(self.latencies_ms)
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else float("nan")
        a = sum(1 for q, ans in self.answers if ans == self.state_a[q] != self.state_b[q])
        b = sum(1 for q, ans in self.answers if ans == self.state_b[q] != self.state_a[q])
        rows = [("simultaneous users", str(self.users)),
                ("duration of the load", f"{self.seconds:.0f} s"),
                ("re-ingests completed during the load", f"{len(self.ingests)} (median "
                 f"{statistics.median(self.ingests) if self.ingests else float('nan'):.1f} s each)"),
                ("questions answered", str(len(self.answers))),
                ("errors (failed calls or error messages)", str(len(self.errors))),
                ("answers from neither state (mixed or half-written)", str(len(self.mixed))),
                ("answers that differ between the states: given as A / as B", f"{a} / {b}"),
                ("latency p50 / p95", f"{statistics.median(lat) if lat else float('nan'):.0f} / {p95:.0f} ms"),
                ("throughput", f"{len(self.answers) / self.seconds:.1f} answers/s")]
        return "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answer_text(result) -> str:
    content = result[1][-1]["content"]
    return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)


def _ask_all(url: str, questions: list[str]) -> dict[str, str]:
    from gradio_client import Client

    return {q: _fresh_answer(Client(url, verbose=False), q) for q in questions}


def _fresh_answer(client, question: str) -> str:
    """The answer to ``question`` as the first of a conversation: the chat keeps each session's
    conversation, and a question asked after others may be read as a follow-up."""
    client.reset_session()
    return _answer_text(client.predict(question, [], "", "", api_name="/ask"))


def start_app(env: dict[str, str], log: Path, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """``app.py`` in its own process on a free loopback port, once it answers (if only with a refusal,
    such as a login page); returns (process, url)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, env={**env, "KB_APP_PORT": str(port), "KB_APP_HOST": "127.0.0.1"})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except urllib.error.HTTPError:
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the app did not start within {timeout:.0f} s")


def _user_threads(url: str, users: int, stop: threading.Event, result: LoadResult) -> list[threading.Thread]:
    """``users`` clients (not started) asking in a loop until ``stop``, each answer and failure
    recorded in ``result``."""
    from gradio_client import Client

    lock = threading.Lock()

    def user(number: int) -> None:
        client = Client(url, verbose=False)
        i = number
        while not stop.is_set():
            question = QUESTIONS[i % len(QUESTIONS)]
            i += 1
            started = time.monotonic()
            try:
                text = _fresh_answer(client, question)
            except Exception as exc:  # every failure is counted and reported, none is hidden
                with lock:
                    result.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            with lock:
                result.latencies_ms.append((time.monotonic() - started) * 1000)
                result.answers.append((question, text))
                if INTERNAL_ERROR in text:
                    result.errors.append(text[:200])

    return [threading.Thread(target=user, args=(n,)) for n in range(users)]


def run_load(data_dir: Path, corpus_dir: Path, users: int, seconds: float, work: Path) -> LoadResult:
    """The whole test on copies of ``data_dir`` and ``corpus_dir`` inside ``work``."""
    data, corpus = work / "data", work / "corpus"
    shutil.copytree(data_dir, data, ignore=shutil.ignore_patterns("eval-stores", "*.lock"))
    shutil.copytree(corpus_dir, corpus)
    document = sorted(p for p in corpus.glob("*.txt"))[0]
    original = document.read_text(encoding="utf-8")
    env = {**os.environ, "KB_DATA_DIR": str(data), "KB_CORPUS_DIR": str(corpus),
           "KB_APP_QUESTIONS_PER_MINUTE": "0", "GRADIO_TEMP_DIR": str(work / "gradio-cache")}
    kb = [sys.executable, "-m", "kb.cli", "ingest"]

    def ingest_to(text: str) -> float:
        document.write_text(text, encoding="utf-8")
        started = time.monotonic()
        done = subprocess.run(kb, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
        return time.monotonic() - started

    ingest_to(original)  # the copied store may predate the current ingest format
    proc, url = start_app(env, work / "app.log")
    result = LoadResult(users, seconds)
    try:
        result.state_a = _ask_all(url, QUESTIONS)
        stop = threading.Event()
        threads = _user_threads(url, users, stop, result)

        def ingester() -> None:
            version = 0
            while not stop.is_set():
                version += 1
                try:
                    result.ingests.append(ingest_to(original + ADDED if version % 2 else original))
                except Exception as exc:
                    result.ingest_failures.append(str(exc)[:500])
                    return

        writer = threading.Thread(target=ingester)
        began = time.monotonic()
        for t in [writer, *threads]:
            t.start()
        while time.monotonic() - began < seconds or not (result.ingests or result.ingest_failures):
            time.sleep(0.2)  # at least one ingest must finish under load, however slow the machine
        stop.set()
        for t in [writer, *threads]:
            t.join(timeout=900)
        result.seconds = time.monotonic() - began
        if document.read_text(encoding="utf-8") != original + ADDED:
            ingest_to(original + ADDED)
        result.state_b = _ask_all(url, QUESTIONS)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return result


def run_throughput(data_dir: Path, corpus_dir: Path, users: list[int], limits: list[int], seconds: float,
                   work: Path) -> str:
    """Answers per second by concurrency limit and number of users, as a Markdown table."""
    data = work / "data"
    shutil.copytree(data_dir, data, ignore=shutil.ignore_patterns("eval-stores", "*.lock"))
    rows = ["| KB_APP_CONCURRENCY | users | answers/s | p50 ms | p95 ms | errors |", "|---|---|---|---|---|---|"]
    for limit in limits:
        env = {**os.environ, "KB_DATA_DIR": str(data), "KB_CORPUS_DIR": str(corpus_dir),
               "KB_APP_QUESTIONS_PER_MINUTE": "0", "KB_APP_CONCURRENCY": str(limit),
               "GRADIO_TEMP_DIR": str(work / "gradio-cache")}
        proc, url = start_app(env, work / f"app-{limit}.log")
        try:
            _ask_all(url, QUESTIONS)  # warm
            for n in users:
                result, stop = LoadResult(n, seconds), threading.Event()
                threads = _user_threads(url, n, stop, result)
                for t in threads:
                    t.start()
                time.sleep(seconds)
                stop.set()
                for t in threads:
                    t.join(timeout=300)
                lat = sorted(result.latencies_ms) or [float("nan")]
                rows.append(f"| {limit} | {n} | {len(result.latencies_ms) / seconds:.2f} | "
                            f"{statistics.median(lat):.0f} | {lat[min(len(lat) - 1, int(0.95 * len(lat)))]:.0f} | "
                            f"{len(result.errors)} |")
                print(rows[-1], flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here (markdown)")
    parser.add_argument("--throughput", type=int, nargs="+", help="numbers of users for the throughput table")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4], help="KB_APP_CONCURRENCY values")
    parser.add_argument("--data", type=Path, help="data folder to copy (default: KB_DATA_DIR)")
    args = parser.parse_args()
    from kb.config import get_settings

    settings = get_settings()
    if args.throughput:
        with tempfile.TemporaryDirectory() as tmp:
            table = run_throughput(args.data or settings.data_dir, settings.corpus_dir, args.throughput,
                                   args.concurrency, args.seconds, Path(tmp))
        print(table)
        if args.out:
            args.out.write_text(f"# Answers per second by number of users\n\n`python -m evals.load --throughput "
                                f"{' '.join(map(str, args.throughput))} --concurrency "
                                f"{' '.join(map(str, args.concurrency))} --seconds {args.seconds:g}` on this "
                                f"machine (2 cores):\n\n{table}", encoding="utf-8")
        return
    with tempfile.TemporaryDirectory() as tmp:
        result = run_load(settings.data_dir, settings.corpus_dir, args.users, args.seconds, Path(tmp))
    table = result.table()
    print(table)
    for problem in result.errors[:5] + [f"mixed: {q} -> {a[:120]}" for q, a in result.mixed[:5]] + \
            result.ingest_failures:
        print("  ", problem)
    if args.out:
        args.out.write_text(f"# Load with an ingest running\n\n`python -m evals.load --users {args.users} "
                            f"--seconds {args.seconds:g}` on this machine (2 cores):\n\n{table}", encoding="utf-8")
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
