#!/usr/bin/env python3
"""What notifications out cost (issue 10): the close of a job that opens many findings, with and
without webhooks (the outbox rows and the job's facts are written in the close transaction), the
delay from a job's close to its receiver, and how fast the `notify-delivery` thread empties a
backlog, against a Python client posting the same bodies to the same receiver in the same run.

    cargo build --release
    python3 tests/bench/notify.py [--findings 20000] [--runs 5] [--backlog 200] [--binary PATH]

Everything runs on loopback: the release server (with `--webhook-allow-private`) and a receiver
(Python's ThreadingHTTPServer answering 200). Prints a Markdown table for BENCHMARKS.md.
"""

import argparse
import http.client
import http.server
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import bench  # tests/bench/bench.py: Server, Table, timed, p50, ms, secs, git


class Receiver:
    """A loopback HTTP receiver that counts requests and notes when each came."""

    def __init__(self):
        self.times = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.times.append(time.perf_counter())
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n, timeout=600):
        deadline = time.time() + timeout
        while len(self.times) < n:
            if time.time() > deadline:
                raise RuntimeError(f"the receiver got {len(self.times)} of {n}")
            time.sleep(0.005)
        return self.times[n - 1]


def make_repo(work, n_findings):
    """A repository of one file with `n_findings` lines and a tool printing a SARIF log with a
    result on each line, so a project's first scan opens that many findings."""
    repo = work / "repos" / "notify"
    repo.mkdir(parents=True)
    (repo / "big.txt").write_text("".join(f"line {n}\n" for n in range(n_findings)))
    bench.git(repo, "init", "-q", "-b", "main")
    bench.git(repo, "add", "-A")
    bench.git(repo, "commit", "-q", "-m", "one big file")
    results = [{"ruleId": "bench", "level": "warning", "message": {"text": "flagged"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": "big.txt"},
                                                    "region": {"startLine": n + 1}}}]}
               for n in range(n_findings)]
    report = work / "report.sarif"
    report.write_text(json.dumps({"version": "2.1.0", "runs": [
        {"tool": {"driver": {"name": "flagger", "rules": [{"id": "bench"}]}}, "results": results}]}))
    os.chmod(work, 0o755)
    os.chmod(report, 0o644)
    tools = work / "tools.toml"
    tools.write_text(f'[[tool]]\nname = "flagger"\nmodule = "codelint"\ncommand = ["/bin/cat", "{report}"]\n'
                     f'format = "sarif"\nread_paths = ["{report}"]\n')
    return repo, tools


def first_scan_store(server, repo_path, webhooks, receiver):
    """A new project's first scan, which opens every finding; its `store` phase, in seconds."""
    scheme = server.call("POST", f"{repo_path}/initscheme/", {
        "name": f"s{time.monotonic_ns()}", "lint_enabled": True, "languages": ["python"], "tools": ["flagger"],
        "cloc_scan_enabled": False})["scan_scheme"]
    project = server.call("POST", f"{repo_path}/projects/", {"branch": "main", "scan_scheme_id": scheme})
    base = f"{repo_path}/projects/{project['id']}"
    if webhooks:
        server.call("POST", f"{base}/webhooks/", {
            "url": receiver.url, "events": ["job.closed", "job.failed", "findings.new"]})
    before = bench.store_phase(server)
    job = server.call("POST", f"{base}/scans/create/", {"incr_scan": False, "async_flag": False})["job"]
    assert job["result_code"] == 0, job
    deadline = time.time() + 60
    while bench.store_phase(server)[0] <= before[0] and time.time() < deadline:
        time.sleep(0.02)
    return bench.store_phase(server)[1] - before[1], base


def measure(args, work):
    repo, tools = make_repo(work, args.findings)
    os.environ["CODEPUP_WEBHOOK_ALLOW_PRIVATE"] = "true"
    server = bench.Server(args.binary, work / "data", work / "repos", 2, tools)
    table = bench.Table()
    receiver = Receiver()
    try:
        server.call("POST", "v3/orgs/", {"name": "bench", "org_sid": "bench"})
        server.call("POST", "v3/orgs/bench/teams/", {"name": "t"})
        repo_id = server.call("POST", "orgs/bench/teams/t/repos/", {"scm_url": str(repo)})["id"]
        repo_path = f"orgs/bench/teams/t/repos/{repo_id}"
        plain, hooked = [], []
        for _ in range(args.runs):
            plain.append(first_scan_store(server, repo_path, False, receiver)[0])
            hooked.append(first_scan_store(server, repo_path, True, receiver)[0])
        table.add(f"close of a first scan opening {args.findings:,} findings, a webhook on all 3 events "
                  f"(`store` phase, p50 of {args.runs})", bench.secs(bench.p50(hooked)),
                  f"{bench.secs(bench.p50(plain))} without webhooks")
        receiver.wait_for(2 * args.runs)

        # Close to receipt: a small project whose scans close at once.
        _, base = first_scan_store(server, repo_path, True, receiver)
        delays = []
        for _ in range(args.runs * 2):
            seen = len(receiver.times)
            job = server.call("POST", f"{base}/scans/create/", {"incr_scan": True, "async_flag": False})["job"]
            closed = time.perf_counter()
            assert job["result_code"] == 1, job
            delays.append(receiver.wait_for(seen + 1) - closed)
        table.add("from a job's close (its `async_flag=false` answer) to the receiver, p50 / max",
                  f"{bench.ms(bench.p50(delays))} / {bench.ms(max(delays))}",
                  "the thread looks every 250 ms")

        # A backlog: redeliveries queued at once, sent one at a time.
        hook = server.call("GET", f"{base}/webhooks/")["results"][0]
        delivery = hook["deliveries"][0]["id"]
        seen = len(receiver.times)
        for _ in range(args.backlog):
            server.call("POST", f"{base}/webhooks/{hook['id']}/deliveries/{delivery}/redeliver/", {})
        queued = time.perf_counter()
        receiver.wait_for(seen + args.backlog)
        first = receiver.times[seen]
        rate = (args.backlog - 1) / (receiver.times[-1] - first)
        body = json.dumps({"event": "job.closed", "padding": "x" * 1500})
        host, port = receiver.url.split("//")[1].split("/")[0].split(":")

        def post_all():
            for _ in range(args.backlog):
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
                conn.request("POST", "/hook", body=body, headers={"Content-Type": "application/json"})
                conn.getresponse().read()
                conn.close()

        elapsed, _ = bench.timed(post_all)
        table.add(f"a backlog of {args.backlog} deliveries sent by `notify-delivery` (after its first)",
                  f"{rate:.0f} /s (all sent {bench.secs(receiver.times[-1] - queued)} after queueing)",
                  f"{args.backlog / elapsed:.0f} /s from Python's http.client, one connection each")
    finally:
        server.stop()
        receiver.server.shutdown()
    print(table.markdown())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=bench.default_binary())
    parser.add_argument("--findings", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backlog", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codepup-notify-bench-") as work:
        measure(args, Path(work))


if __name__ == "__main__":
    main()
