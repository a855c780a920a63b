"""A loopback stand-in for an OpenAI-compatible server (vLLM): the part of the API the answer
engine uses, POST /v1/completions with logprobs. Records (path, Authorization, body)."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer


@contextmanager
def completions_server(text: str):
    """Yields (base URL ending in /v1, the list of recorded requests); every reply is ``text``."""
    seen: list[tuple[str, str | None, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, self.headers.get("Authorization"), body))
            reply = {"object": "text_completion", "model": body["model"], "choices": [{
                "index": 0, "finish_reason": "stop", "text": text,
                "logprobs": {"tokens": ["a", "b"], "token_logprobs": [-0.1, -0.3]}}]}  # fmt: skip
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", seen
    finally:
        server.shutdown()
