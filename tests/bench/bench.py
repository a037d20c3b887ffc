#!/usr/bin/env python3
"""Benchmarks for codepup's scan engine and job list (numbers go in BENCHMARKS.md).

Run from the repository root after `cargo build --release`:

    python3 tests/bench/bench.py [--source DIR] [--size-mb 60] [--jobs 100000] [--tokei PATH]

It builds a git repository from real source code (by default crates from the local cargo
registry, which every Rust machine has), starts the release server on a loopback port with a
fresh data directory, and measures:

1. a full codecount scan against the `tokei` command on the same checkout (first clone excluded);
2. an incremental scan after a one-file commit against a full scan of the same repository;
3. the job list with N jobs in one project, with and without filters (p50, p95);
4. `scans/create` (async) throughput, and the server's memory (VmHWM) while it scans.

Everything runs on this machine; nothing but loopback traffic.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bench-admin-token-0123456789abcdef"
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, stdout=subprocess.DEVNULL)


def default_source():
    registry = Path.home() / ".cargo" / "registry" / "src"
    dirs = sorted(registry.glob("*/")) if registry.exists() else []
    if not dirs:
        sys.exit("no --source given and no cargo registry sources found")
    return dirs[0]


def build_repo(source, size_mb, dest):
    """Copies whole top-level directories of `source` (sorted) until `size_mb` is reached."""
    dest.mkdir(parents=True)
    total = 0
    for entry in sorted(p for p in source.iterdir() if p.is_dir()):
        if total >= size_mb * 1024 * 1024:
            break
        target = dest / entry.name
        shutil.copytree(entry, target, symlinks=False, ignore=shutil.ignore_patterns(".git", "target"))
        total += sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "bench tree")
    files = int(subprocess.run(["git", "ls-files"], cwd=dest, capture_output=True, text=True).stdout.count("\n"))
    return total, files


class Server:
    def __init__(self, data, repos, workers):
        self.data = data
        self.proc = subprocess.Popen(
            [str(ROOT / "target/release/codepup"), "serve", "--bind", "127.0.0.1:0", "--data-dir", str(data),
             "--allow-local-repos", str(repos), "--workers", str(workers)],
            env={**os.environ, "CODEPUP_ADMIN_TOKEN": TOKEN, "RUST_LOG": "warn,codepup=info"},
            stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            if "listening on http://" in line:
                address = line.split("listening on http://")[1].split()[0]
                self.host, self.port = address.split(":")
                break
        self.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=3600)
        # Keep reading the log so the server never blocks on a full pipe.
        import threading
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def call(self, method, path, body=None, raw=False):
        headers = {"Authorization": f"Token {TOKEN}"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, "/server/main/api/" + path, body=payload, headers=headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed an idle keep-alive connection: open a new one.
            self.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=3600)
            self.conn.request(method, "/server/main/api/" + path, body=payload, headers=headers)
            response = self.conn.getresponse()
        if raw:
            return response.read().decode()
        data = json.loads(response.read())
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {data}")
        return data["data"]

    def rss_peak_kib(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median_of(n, fn):
    return statistics.median(timed(fn)[0] for _ in range(n))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path)
    parser.add_argument("--size-mb", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--tokei", default=shutil.which("tokei") or "tokei")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not (ROOT / "target/release/codepup").exists():
        sys.exit("build first: cargo build --release")

    work = Path(tempfile.mkdtemp(prefix="codepup-bench-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, work):
    repos = work / "repos"
    size, files = build_repo(args.source or default_source(), args.size_mb, repos / "big")
    print(f"repository: {size / 1e6:.1f} MB in {files} files")
    server = Server(work / "data", repos, args.workers)
    server.call("POST", "v3/orgs/", {"name": "bench", "org_sid": "bench"})
    server.call("POST", "v3/orgs/bench/teams/", {"name": "t"})
    repo = server.call("POST", "orgs/bench/teams/t/repos/", {"scm_url": str(repos / "big")})
    # Line counting alone (the default template also runs the built-in checker, timed below).
    count_scheme = server.call("POST", f"orgs/bench/teams/t/repos/{repo['id']}/initscheme/", {"name": "count"})
    project = server.call("POST", f"orgs/bench/teams/t/repos/{repo['id']}/projects/",
                          {"branch": "main", "scan_scheme_id": count_scheme["scan_scheme"]})
    base = f"orgs/bench/teams/t/repos/{repo['id']}/projects/{project['id']}"

    def scan(incr):
        job = server.call("POST", f"{base}/scans/create/", {"incr_scan": incr, "async_flag": False})["job"]
        assert job["result_code"] in (0, 1), job
        return job

    first, _ = timed(lambda: scan(False))
    print(f"first full scan (with the clone): {first:.2f} s")
    full_times = []
    for _ in range(3):
        elapsed, job = timed(lambda: scan(False))
        full_times.append(elapsed)
    full = statistics.median(full_times)
    print("job log of the last full scan:")
    print(server.call("GET", f"{base}/jobs/{job['id']}/log/", raw=True))
    # Cold: a new project on the same (already cloned) repository has no per-file counts to reuse,
    # so every blob is read from git and counted.
    cold_times = []
    for n in range(3):
        scheme = server.call("POST", f"orgs/bench/teams/t/repos/{repo['id']}/initscheme/", {"name": f"cold-{n}"})
        cold_project = server.call("POST", f"orgs/bench/teams/t/repos/{repo['id']}/projects/",
                                   {"branch": "main", "scan_scheme_id": scheme["scan_scheme"]})
        cold_base = f"orgs/bench/teams/t/repos/{repo['id']}/projects/{cold_project['id']}"
        elapsed, _ = timed(lambda: server.call("POST", f"{cold_base}/scans/create/", {"async_flag": False}))
        cold_times.append(elapsed)
    cold = statistics.median(cold_times)
    checkout = work / "checkout"
    subprocess.run(["git", "clone", "-q", str(repos / "big"), str(checkout)], check=True)
    shutil.rmtree(checkout / ".git")
    tokei = median_of(3, lambda: subprocess.run([args.tokei, str(checkout)], stdout=subprocess.DEVNULL, check=True))
    print(f"full codecount scan, cold (nothing to reuse): {cold:.2f} s (median of 3); ratio to tokei {cold / tokei:.2f}x")
    print(f"full codecount scan, warm (per-file counts of the last scan): {full:.2f} s (median of 3); ratio to tokei {full / tokei:.2f}x")
    print(f"tokei CLI on a checkout of the same revision: {tokei:.2f} s (median of 3)")

    incr_times = []
    for n in range(3):
        target = next((repos / "big").rglob("*.rs"))
        with open(target, "a") as handle:
            handle.write(f"\n// bench change {n}\n")
        git(repos / "big", "commit", "-q", "-am", f"one file {n}")
        elapsed, last_incr = timed(lambda: scan(True))
        incr_times.append(elapsed)
    incremental = statistics.median(incr_times)
    print("job log of the last incremental scan:")
    print(server.call("GET", f"{base}/jobs/{last_incr['id']}/log/", raw=True))
    print(f"incremental scan after a one-file commit: {incremental:.3f} s (median of 3) = "
          f"{100 * incremental / cold:.1f}% of a cold full scan, {100 * incremental / full:.1f}% of a warm one")

    # The built-in checker: a lint-only scheme, timed by the task itself (from the job log), against
    # reading the same files with cat as the floor.
    scheme = server.call("POST", f"orgs/bench/teams/t/repos/{repo['id']}/initscheme/",
                         {"name": "checker", "cloc_scan_enabled": False, "lint_enabled": True, "tools": ["codepup"]})
    lint_project = server.call("POST", f"orgs/bench/teams/t/repos/{repo['id']}/projects/",
                               {"branch": "main", "scan_scheme_id": scheme["scan_scheme"]})
    lint_base = f"orgs/bench/teams/t/repos/{repo['id']}/projects/{lint_project['id']}"
    checker_ms = []
    for _ in range(3):
        job = server.call("POST", f"{lint_base}/scans/create/", {"incr_scan": False, "async_flag": False})["job"]
        log = server.call("GET", f"{lint_base}/jobs/{job['id']}/log/", raw=True)
        checker_ms.append(next(int(line.split()[3]) for line in log.splitlines() if line.startswith("task codepup took")))
    # The first run reads every file; later full scans reuse the results for unchanged blobs.
    checker = checker_ms[0] / 1000
    checker_warm = statistics.median(checker_ms[1:]) / 1000
    files = [str(p) for p in checkout.rglob("*") if p.is_file()]
    cat = median_of(3, lambda: subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True))
    print(f"built-in checker over the whole tree, cold: {checker:.2f} s = {size / 1e6 / checker:.0f} MB/s "
          f"(blobs read from git); cat of the same files: {cat:.2f} s = {size / 1e6 / cat:.0f} MB/s")
    print(f"built-in checker, repeat full scan of the same tree: {checker_warm:.3f} s")

    # The job list: N jobs in one project, written straight into the database (a bench fixture).
    db = sqlite3.connect(work / "data" / "codepup.db")
    start_id = db.execute("SELECT COALESCE(MAX(id), 0) FROM jobs").fetchone()[0]
    rows = []
    for n in range(args.jobs):
        # Closed jobs only: a WAITING row would be taken by the running workers.
        state = 2
        code = (0, 1, 2, 211, 301)[n % 5]
        day = 1 + (n * 28) // args.jobs
        rows.append((project["id"], state, f"2026-02-{day:02d}T{n % 24:02d}:00:00.{n % 1000000:06d}Z", code,
                     "success" if code == 0 else f"message {n % 97}", "api" if n % 3 else "tca_web", f"user{n % 50}"))
    db.executemany(
        "INSERT INTO jobs (project_id, state, create_time, result_code, result_msg, created_from, creator)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    queries = {
        "no filter": "",
        "state=0,1": "state=0,1",
        "result_code_gte=200": "result_code_gte=200",
        "create_time range": "create_time_gte=2026-02-10&create_time_lte=2026-02-12",
        "creator substring": "creator=USER4",
        "all filters": "state=1,2&result_code_gte=0&result_code_lte=300&created_from=api&create_time_gte=2026-02-03",
        "offset 50000": "offset=50000",
    }
    for name, query in queries.items():
        times = []
        for _ in range(200):
            elapsed, data = timed(lambda: server.call("GET", f"{base}/jobs/?{query}"))
            times.append(elapsed * 1000)
        times.sort()
        print(f"job list, {args.jobs} jobs, {name}: p50 {statistics.median(times):.2f} ms, p95 {times[189]:.2f} ms, count {data['count']}")

    # scans/create throughput (async, force_create so every request makes a job) and memory.
    n = 200
    elapsed, _ = timed(lambda: [server.call("POST", f"{base}/scans/create/", {"force_create": True, "incr_scan": False}) for _ in range(n)])
    print(f"scans/create async: {n / elapsed:.0f} requests/s over {n} requests ({1000 * elapsed / n:.2f} ms each)")
    peak = 0
    deadline = time.time() + 3600
    while time.time() < deadline:
        peak = max(peak, server.rss_peak_kib())
        waiting = server.call("GET", f"{base}/jobs/?state=0,1,3,4,5&limit=1")["count"]
        if waiting == 0:
            break
        time.sleep(0.5)
    print(f"server memory peak (VmHWM) after {n} queued full scans of the repository: {peak / 1024:.0f} MiB")
    server.stop()


if __name__ == "__main__":
    main()
