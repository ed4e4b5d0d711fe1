"""A small OpenAI-compatible HTTP server for the API backend's tests: canned answers, injected failures, a request log.

Run as a process (`python tests/openai_stub.py --port-file F --log F ...`) so a test can kill it like a real server.
Every POST is logged as a JSON line {"path", "key", "status"} (flushed at once), `key` being a hash of the prompt.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MODEL = "stub-model"


def char_logprob(c: str) -> float:
    """Each character is one token; its logprob is a fixed function of the character."""
    return -((ord(c) % 5) + 1) / 10


class State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()
        self.served = 0
        self.in_flight = 0
        """POST requests being handled right now (the log records the count when each is answered)."""
        self.log = open(args.log, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
        self.answers: dict[str, str] = json.loads(Path(args.answers).read_text()) if args.answers else {}

    def record(self, path: str, key: str, status: int) -> None:
        with self.lock:
            self.log.write(json.dumps({"path": path, "key": key, "status": status, "in_flight": self.in_flight}) + "\n")
            self.log.flush()


class Handler(BaseHTTPRequestHandler):
    state: State
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _authorized(self) -> bool:
        key = self.state.args.key
        if key and self.headers.get("Authorization") != f"Bearer {key}":
            self._send(401, {"error": {"message": "invalid api key", "type": "auth"}})
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorized():
            return
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "stub"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        with self.state.lock:
            self.state.in_flight += 1
        try:
            self._post()
        finally:
            with self.state.lock:
                self.state.in_flight -= 1

    def _post(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if not self._authorized():
            return
        prompt = json.dumps(body.get("messages")) if "messages" in body else str(body.get("prompt"))
        key = hashlib.sha256(prompt.encode()).hexdigest()[:16]
        args = self.state.args
        if args.chat_only and not self.path.endswith("/chat/completions"):
            self.state.record(self.path, key, 404)
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        if body.get("model") != MODEL:
            self.state.record(self.path, key, 404)
            self._send(404, {"error": {"message": f"model {body.get('model')!r} does not exist"}})
            return
        if args.refuse_zero and body.get("echo") and body.get("max_tokens") == 0:
            self.state.record(self.path, key, 400)
            self._send(400, {"error": {"message": "max_tokens must be at least 1"}})
            return
        with self.state.lock:
            self.state.attempts[key] += 1
            attempt = self.state.attempts[key]
        if attempt <= args.fail:
            status = 429 if attempt % 2 else 500  # alternate: rate limited, then a server error
            self.state.record(self.path, key, status)
            self._send(status, {"error": {"message": f"injected {status}"}})
            return
        if args.delay:
            time.sleep(args.delay)
        text = self._answer(prompt)
        if self.path.endswith("/chat/completions"):
            message = {"role": "assistant", "content": text}
            if args.reasoning_split and "</think>" in text:  # as vLLM's reasoning parsers return it
                thinking, _, answer = text.partition("</think>")
                message = {**message, "content": answer.lstrip(), "reasoning_content": thinking.replace("<think>", "")}
            reply = {"id": "c", "object": "chat.completion", "created": 0, "model": MODEL,
                     "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                     "usage": {"prompt_tokens": len(prompt), "completion_tokens": len(text),
                               "total_tokens": len(prompt) + len(text)}}
        else:
            reply = {"id": "c", "object": "text_completion", "created": 0, "model": MODEL,
                     "choices": [self._completion_choice(str(body.get("prompt")), text, body)],
                     "usage": {"prompt_tokens": len(prompt), "completion_tokens": len(text),
                               "total_tokens": len(prompt) + len(text)}}
        self.state.record(self.path, key, 200)
        self._send(200, reply)
        with self.state.lock:
            self.state.served += 1
            dead = args.die_after and self.state.served >= args.die_after
        if dead:
            os._exit(0)  # a crashed server: no goodbye, the port closes

    def _answer(self, prompt: str) -> str:
        # The last test question in the prompt (few-shot examples come first) decides the canned answer.
        found = [(prompt.rfind(q), a) for q, a in self.state.answers.items() if q in prompt]
        return max(found)[1] if found else "I do not know."

    def _completion_choice(self, prompt: str, text: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("echo") and not self.state.args.no_echo:
            max_tokens = int(body.get("max_tokens") or 0)
            out = prompt + "x" * max_tokens
            values: list[float | None] = [None, *(char_logprob(c) for c in out[1:])]
            return {"index": 0, "text": out, "finish_reason": "length",
                    "logprobs": {"tokens": list(out), "text_offset": list(range(len(out))), "token_logprobs": values,
                                 "top_logprobs": [None, *({c: char_logprob(c)} for c in out[1:])]}}
        return {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--answers", default=None, help="JSON {question: answer text}")
    p.add_argument("--fail", type=int, default=0, help="answer the first N attempts of each prompt with 429/500")
    p.add_argument("--die-after", type=int, default=0, help="exit after serving N completions")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--key", default=None, help="require this Bearer token")
    p.add_argument("--no-echo", action="store_true", help="ignore echo=True, like llama.cpp's server")
    p.add_argument("--refuse-zero", action="store_true", help="answer 400 to max_tokens=0")
    p.add_argument("--chat-only", action="store_true", help="404 on /v1/completions, like a chat-only server")
    p.add_argument("--reasoning-split", action="store_true",
                   help="chat replies give a canned answer's <think> part as reasoning_content")
    args = p.parse_args()
    Handler.state = State(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    Path(args.port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
