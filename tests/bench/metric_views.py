"""Latency of issue 11's read views on a real tree (not run in CI): the line-count views
(`codemetric/clocfiles/`, `clocs/`, `cloclangs/`, `overview/clocscans/`) and the findings download
(`codelint/issues/download/`) and rule counts, beside `jobs/<id>/codecount/` (the reference: one
job's per-language rows, measured in the same run).

Usage: python3 tests/bench/metric_views.py BINARY BARE_REPO [ROUNDS]
  e.g. python3 tests/bench/metric_views.py target/release/codepup /work/benchrepo.git 20

It starts BINARY on a fresh data directory, registers BARE_REPO (a local repository), makes a
project on its default branch with the `default` template (line counting and the built-in
checker), scans it once and waits, then times each view ROUNDS times and prints the median and
the slowest.
"""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "b" * 40


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Token {TOKEN}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=600) as response:
        return response.read()


def main():
    binary, repo = sys.argv[1], os.path.abspath(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    data = tempfile.mkdtemp(prefix="codepup-bench-views-")
    port = free_port()
    server = subprocess.Popen(
        [binary, "serve", "--bind", f"127.0.0.1:{port}", "--data-dir", data,
         "--admin-token", TOKEN, "--allow-local-repos", os.path.dirname(repo), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                call(base, "GET", "/healthz")
                break
            except OSError:
                time.sleep(0.05)
        main_api = base + "/server/main/api"
        call(main_api, "POST", "/v3/orgs/", {"name": "Bench", "org_sid": "bench"})
        call(main_api, "POST", "/v3/orgs/bench/teams/", {"name": "t"})
        repo_id = json.loads(call(main_api, "POST", "/orgs/bench/teams/t/repos/",
                                  {"scm_url": repo}))["data"]["id"]
        branch = subprocess.run(["git", "-C", repo, "symbolic-ref", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        project = f"/orgs/bench/teams/t/repos/{repo_id}/projects"
        project_id = json.loads(call(main_api, "POST", f"{project}/",
                                     {"branch": branch, "global_scheme_id": 1}))["data"]["id"]
        project = f"{project}/{project_id}"
        started = time.monotonic()
        job = json.loads(call(main_api, "POST", f"{project}/scans/create/",
                              {"incr_scan": False, "async_flag": False}))["data"]
        print(f"scan: job {job['job']['id']} closed with {job['job']['result_code']} "
              f"in {time.monotonic() - started:.1f} s")
        analysis = base + "/server/analysis/api" + project
        files = json.loads(call(analysis, "GET", "/codemetric/clocfiles/?limit=1"))["data"]["count"]
        issues = json.loads(call(analysis, "GET", "/codelint/issues/?limit=1"))["data"]["count"]
        print(f"counted files: {files:,}; findings: {issues:,}")
        last = max(files - 100, 0)
        views = [
            ("jobs/<id>/codecount/ (reference)", main_api, f"{project}/jobs/{job['job']['id']}/codecount/"),
            ("clocfiles/?limit=100", analysis, "/codemetric/clocfiles/?limit=100"),
            ("clocfiles/, the last page", analysis, f"/codemetric/clocfiles/?limit=100&offset={last}"),
            ("clocfiles/?file_path=src", analysis, "/codemetric/clocfiles/?file_path=src&limit=100"),
            ("clocs/ (root)", analysis, "/codemetric/clocs/"),
            ("cloclangs/", analysis, "/codemetric/cloclangs/"),
            ("overview/clocscans/", analysis, "/overview/clocscans/"),
            ("codelint/issues/checkrules/", analysis, "/codelint/issues/checkrules/"),
            ("codelint/issues/download/", analysis, "/codelint/issues/download/"),
        ]
        print("| view | median ms | slowest ms | bytes |")
        print("|---|---|---|---|")
        for name, root, path in views:
            times, size = [], 0
            for _ in range(rounds):
                t0 = time.perf_counter()
                size = len(call(root, "GET", path))
                times.append((time.perf_counter() - t0) * 1000)
            print(f"| {name} | {statistics.median(times):.1f} | {max(times):.1f} | {size:,} |")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
