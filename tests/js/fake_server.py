"""Stands in for the editor's remote server in a job (tests/sim/test_editors_e2e.py installs it where
open-remote-ssh's server-setup.sh looks for the server, so the script starts it instead of downloading one).

It takes the server's options, listens on 127.0.0.1 (``--port=0``: a free port), prints the line the setup
script waits for (``Extension host agent listening on PORT``), and answers every GET with where it runs: its
working directory (the job's, as the session that started it), its pid and the job's scratch directory.
It stops by itself after IDLE seconds without a request, or LIFETIME seconds in all, so nothing outlives a test.
"""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IDLE = 120.0
LIFETIME = 900.0
last = [time.monotonic()]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        last[0] = time.monotonic()
        body = json.dumps({"cwd": os.getcwd(), "pid": os.getpid(), "path": self.path,
                           "scratch": os.environ.get("_CONDOR_SCRATCH_DIR", "")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main(argv):
    port = 0
    for arg in argv:
        if arg.startswith("--port="):
            port = int(arg.split("=", 1)[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"Extension host agent listening on {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started = time.monotonic()
    while time.monotonic() - last[0] < IDLE and time.monotonic() - started < LIFETIME:
        time.sleep(1)
    server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
