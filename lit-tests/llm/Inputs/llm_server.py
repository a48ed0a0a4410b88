#!/usr/bin/env python3
"""A scripted OpenAI-compatible chat-completions server for the LLM tests.

    llm_server.py --log REQUESTS.txt --reply KIND[:ARG] ... -- COMMAND ARGS...

Listens on 127.0.0.1 at a port the kernel picks, runs COMMAND with
SBPF_LLM_URL=http://127.0.0.1:PORT/v1 in its environment (stdout and stderr
passed through), answers the command's requests with the replies in order,
and exits with the command's status. No other traffic: loopback only.

Replies:
  c:FILE        200, a completion whose content holds FILE in a ```c block
  text:STRING   200, a completion whose content is STRING (no code)
  malformed     200 with a body that is not JSON
  status:CODE   CODE (e.g. 429 with Retry-After: 0, or 500), an error body
  hang          read the request and never answer (until the client leaves)
A request beyond the script gets 500.

--log writes, for every request, its path, whether the Authorization header
held $EXPECT_KEY ("matches"/"absent"/"differs": the key itself is never
written), the model, the temperature and each message's role and content.
"""
import argparse
import http.server
import json
import os
import subprocess
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--reply", action="append", default=[])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    replies = list(args.reply)
    log = open(args.log, "w")
    lock = threading.Lock()
    count = [0]
    expect_key = os.environ.get("EXPECT_KEY", "")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, status, body, headers=()):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8", "replace")
            auth = self.headers.get("Authorization")
            with lock:
                n = count[0]
                count[0] += 1
                if auth is None:
                    key = "absent"
                elif expect_key and auth == "Bearer " + expect_key:
                    key = "matches"
                else:
                    key = "differs"
                log.write("=== request %d %s key:%s\n" % (n + 1, self.path, key))
                try:
                    req = json.loads(body)
                    log.write("model: %s temperature: %s\n"
                              % (req.get("model"), req.get("temperature")))
                    for m in req.get("messages", []):
                        log.write("--- %s\n%s\n" % (m.get("role"), m.get("content")))
                except ValueError:
                    log.write("(body is not JSON)\n")
                log.flush()
            reply = replies[n] if n < len(replies) else "status:500"
            kind, _, arg = reply.partition(":")
            if kind == "c":
                with open(arg) as f:
                    code = f.read()
                content = "Here is the program.\n\n```c\n" + code + "```\n"
                self.send(200, completion(content))
            elif kind == "text":
                self.send(200, completion(arg))
            elif kind == "malformed":
                self.send(200, '{"choices": [ this is not JSON')
            elif kind == "status":
                self.send(int(arg), json.dumps({"error": {"message": "scripted status " + arg}}),
                          [("Retry-After", "0")])
            elif kind == "hang":
                time.sleep(30)
            else:
                self.send(500, "{}")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env["SBPF_LLM_URL"] = "http://127.0.0.1:%d/v1" % server.server_address[1]
    env.pop("OPENAI_BASE_URL", None)
    rc = subprocess.call(command, env=env)
    server.shutdown()
    log.close()
    sys.exit(rc)


def completion(content):
    return json.dumps({
        "id": "chatcmpl-test", "object": "chat.completion", "model": "scripted-model",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
    })


if __name__ == "__main__":
    main()
