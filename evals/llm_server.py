"""A small OpenAI-compatible chat server on loopback that answers from a script: for tests, the
browser test and trying the LLM path without a model.

    python -m evals.llm_server [--port 8765] [--script steps.json] [--token-delay 0.05]

It speaks ``POST /v1/chat/completions`` (plain and streamed as server-sent events, with usage) and
``GET /v1/models``. Each request takes the next step of the script; when the script is used up (or
there is none) it answers by quoting: the sentence of source 1 in the prompt that shares most words
with the question, cited [1] — an answer that passes validation (and a request to condense a
follow-up gets the question back unchanged). Steps:

    {"reply": "text"}        answer with this text
    {"status": 429}          fail with this HTTP status (429 carries retry-after: 0)
    {"delay": 5}             wait this many seconds first (then the step's other keys, or quote)
    {"malformed": true}      send a body that is not a chat completion
    {"drop": true}           close the stream after the first token

No real model is involved: this checks the client path (langchain-openai, streaming, timeouts,
errors), not answer quality.
"""
from __future__ import annotations

import argparse
import json
import re
import threading
import time
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_SOURCE = re.compile(r'<source id="1"[^>]*>\n(.*?)\n</source>', re.S)
_QUESTION = re.compile(r"(?:Spørgsmål|Question): (.*)\s*$", re.S)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÆØÅ])")


def quote_answer(prompt: str) -> str:
    """What a careful model would write: one sentence of source 1, verbatim, cited."""
    source = _SOURCE.search(prompt)
    question = _QUESTION.search(prompt)
    if "<sources>" not in prompt and (last := re.search(r"Sidste spørgsmål: (.*)\s*$", prompt)):
        return last.group(1).strip()  # asked to condense a follow-up: it leaves the question as it is
    if not source:
        return "Det fremgår ikke af dokumenterne."
    wanted = {w.lower() for w in re.findall(r"\w{4,}", question.group(1) if question else "")}
    sentences = [s.strip() for s in _SENTENCE.split(unescape(source.group(1))) if s.strip()]
    best = max(sentences, key=lambda s: len(wanted & {w.lower() for w in re.findall(r"\w{4,}", s)}))
    return f"{best.rstrip()} [1]"


class ScriptedLLMServer:
    """The server on 127.0.0.1 in a background thread; ``requests`` keeps each request's messages."""

    def __init__(self, script: list[dict] | None = None, port: int = 0, token_delay: float = 0.0) -> None:
        self.script = list(script or [])
        self.token_delay = token_delay  # seconds between streamed tokens, to watch an answer grow
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet: tests read the records instead
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "not found"}})
                    return
                with server._lock:
                    server.requests.append(body)
                    step = server.script.pop(0) if server.script else {}
                if step.get("delay"):
                    time.sleep(float(step["delay"]))
                if step.get("status"):
                    headers = {"retry-after": "0"} if step["status"] == 429 else {}
                    self._json(int(step["status"]), {"error": {"message": "scripted failure",
                                                               "type": "scripted", "code": step["status"]}}, headers)
                    return
                if step.get("malformed"):
                    self._send(200, b"this is not json", "application/json")
                    return
                prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
                reply = step.get("reply", quote_answer(prompt))
                usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(reply.split()),
                         "total_tokens": len(prompt.split()) + len(reply.split())}
                if body.get("stream"):
                    self._stream(body, reply, usage, drop=bool(step.get("drop")))
                else:
                    self._json(200, {"id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()),
                                     "model": body.get("model", "scripted"),
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": reply}}],
                                     "usage": usage})

            def _stream(self, body: dict, reply: str, usage: dict, drop: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                base = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": int(time.time()),
                        "model": body.get("model", "scripted")}

                def event(payload: dict) -> None:
                    self.wfile.write(b"data: " + json.dumps({**base, **payload}).encode() + b"\n\n")
                    self.wfile.flush()

                event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
                for i, token in enumerate(re.findall(r"\S+\s*", reply)):
                    time.sleep(server.token_delay)
                    event({"choices": [{"index": 0, "delta": {"content": token}, "finish_reason": None}]})
                    if drop and i == 0:
                        self.close_connection = True
                        return
                event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    event({"choices": [], "usage": usage})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
                self._send(status, json.dumps(payload).encode(), "application/json", headers)

            def _send(self, status: int, data: bytes, kind: str, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "ScriptedLLMServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--script", help="a JSON file with a list of steps (see the module's docstring)")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between streamed tokens")
    args = parser.parse_args()
    script = json.loads(open(args.script, encoding="utf-8").read()) if args.script else []
    server = ScriptedLLMServer(script, args.port, args.token_delay)
    print(f"Scripted chat server on {server.url} (KB_LLM_PROVIDER=openai KB_LLM_BASE_URL={server.url} "
          f"KB_LLM_MODEL=scripted)", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


if __name__ == "__main__":
    main()
