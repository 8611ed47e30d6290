"""Chat benchmark: cold start of ``python app.py`` to the first answer, then answer latency.

    python -m evals.bench_app [--runs 10]

Uses the store in KB_DATA_DIR (run `kb ingest` first). Latency is measured end to end through the
app's API on loopback (queue, retrieval, answer, sources HTML), median of the runs, against a
baseline in the same run: the same questions asked of the library directly.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUESTION = "Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KB_APP_PORT": str(port)}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve().parents[1] / "app.py")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = None
        while client is None:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            except Exception as exc:
                if proc.poll() is not None or time.perf_counter() - started > 120:
                    raise SystemExit("the app did not start") from exc
                time.sleep(0.2)
        client.predict(QUESTION, [], "", "", api_name="/ask")
        cold = time.perf_counter() - started
        ui = []
        for _ in range(args.runs):
            t = time.perf_counter()
            client.predict(QUESTION, [], "", "", api_name="/ask")
            ui.append((time.perf_counter() - t) * 1000)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    from kb.config import get_settings
    from kb.service import KnowledgeBase

    kb = KnowledgeBase(get_settings())
    kb.ask(QUESTION)
    lib = []
    for _ in range(args.runs):
        t = time.perf_counter()
        kb.ask(QUESTION)
        lib.append((time.perf_counter() - t) * 1000)
    print(f"cold start, python app.py -> first answer: {cold:.1f} s")
    print(f"answer latency through the app, median of {args.runs}: {statistics.median(ui):.0f} ms "
          f"(library call alone: {statistics.median(lib):.0f} ms; app overhead x{statistics.median(ui) / statistics.median(lib):.1f})")


if __name__ == "__main__":
    main()
