#!/usr/bin/env python3
"""Benchmarks for codepup's scan engine, findings and job list (numbers go in BENCHMARKS.md).

Run from the repository root after `cargo build --release`:

    python3 tests/bench/bench.py [--tokei PATH] [--runs 5] [--only ROW ...] [--keep] [--work DIR]

It writes a benchmark repository that looks like a real one with `make_repo.py` (real source
text, at least 80 MB and 8,000 files, 20,000 commits, 10,000 tags, five branches; `--size-mb`,
`--files`, `--commits`, `--tags`, `--seed`), or reuses the one in `--work DIR/repos/bench.git`,
registers it with the release server as a local path, and measures each row of issue 14 against
its reference, taken in the same run:

- count:   cold count, a new project on the cached repository with a count-only scheme, as the
           client waits (`async_flag=false`), against the `tokei` CLI on a checkout of the same
           revision (page cache warm); also the warm repeat count of the old benchmark;
- repeat:  a repeat full scan (`incr_scan=false`) at an unchanged head, against
           `git ls-remote <repo> refs/heads/main`;
- incr:    an incremental scan after a one-file commit, against `git fetch --no-tags` of that
           branch into a single-branch bare cache, right after the same commit;
- checker: the built-in checker alone, cold and repeated, against `cat` (the old benchmark);
- store-default: a first scan of the default template (line counting and the built-in checker)
           on a fresh server: the time to store its findings (the server's `store` phase, from
           the `codepup_phase_seconds` histogram on `--metrics-bind`) and the peak RSS;
- store-sarif: the same for a `tools.toml` command tool printing a SARIF log of
           `--sarif-results` results (150,000) over files of the repository;
- export:  `jobs/<id>/sarif/` of that job on a fresh server: wall time, peak RSS, RSS after;
- joblist: the job lists (a project's, the cross-project `v3/jobs/`, the admin's `v2/jobs/`) with
           `--jobs` jobs in one project and `--store-jobs` in `--projects` projects, each filter
           alone, all at once, deep offsets (p50, p95; fixture and queries in `lists.py`);
- findings: the findings list with `--findings` findings in one project, the same way;
- create:  `scans/create` (async) requests/s from one keep-alive client, p50 of `--runs`
           bursts of 200, and the server's peak RSS while the queued scans run; once with
           `http.client`, once with a raw-socket client of far less CPU per request.

Every server is the release binary on a loopback port with its data in the work directory. The
end is a markdown table (what / result / reference / target / met?) for BENCHMARKS.md. Nothing
but loopback traffic.
"""

import argparse
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lists  # noqa: E402  (sibling scripts, not a package)
import make_repo  # noqa: E402

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
ROWS = ["count", "repeat", "incr", "checker", "store-default", "store-sarif", "export", "joblist", "findings",
        "create"]
# Rows that need no benchmark repository: a one-commit repository stands in for it.
LIST_ROWS = {"joblist", "findings"}
MB = 1e6
MIB = 1 << 20


def git(repo, *args, input=None):
    done = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, input=input,
                          stdout=subprocess.PIPE)
    return done.stdout


class Server:
    """A release server on a loopback port; a second start on the same data dir keeps its data."""

    def __init__(self, binary, data, repos, workers, tools_file=None):
        self.data = data
        command = [str(binary), "serve", "--bind", "127.0.0.1:0", "--data-dir", str(data),
                   "--allow-local-repos", str(repos), "--workers", str(workers),
                   "--metrics-bind", "127.0.0.1:0"]
        if tools_file:
            command += ["--tools-file", str(tools_file)]
        self.proc = subprocess.Popen(
            command, env={**os.environ, "CODEPUP_ADMIN_TOKEN": TOKEN,
                          "RUST_LOG": "warn,codepup=info,codepup::access=warn"},
            stderr=subprocess.PIPE, text=True)
        self.metrics_address = None
        for line in self.proc.stderr:
            if "listening on http://" in line:
                address = line.split("listening on http://")[1].split()[0]
                self.host, self.port = address.split(":")
            if "metrics on http://" in line:
                self.metrics_address = line.split("metrics on http://")[1].split("/")[0]
                break
        if self.metrics_address is None:
            sys.exit(f"the server did not start: {command}")
        self.conn = self.connect()
        # Keep reading the log so the server never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def connect(self):
        return http.client.HTTPConnection(self.host, int(self.port), timeout=3600)

    def request(self, method, path, body=None):
        headers = {"Authorization": f"Token {TOKEN}"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed an idle keep-alive connection: open a new one.
            self.conn = self.connect()
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
        return response.status, response.read()

    def call(self, method, path, body=None, raw=False):
        status, content = self.request(method, "/server/main/api/" + path, body)
        if raw:
            return content.decode()
        data = json.loads(content)
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {data}")
        return data["data"]

    def status_kib(self, field):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def request_cpu_seconds(self, skip_prefixes=("scan-worker", "blob-reader")):
        """CPU time of the server's threads but those whose name starts with one of
        `skip_prefixes`: the request path's share, without the scans the workers (and the blob
        readers counting for them) run meanwhile. Read from each thread's `schedstat` (time on
        the CPU in nanoseconds), not `stat`'s 10 ms clock ticks, so a burst's share is exact."""
        total = 0
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                comm = (task / "comm").read_text().strip()
                on_cpu_ns = int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # the thread ended
            if not comm.startswith(skip_prefixes):
                total += on_cpu_ns
        return total / 1e9

    def rss_peak_kib(self):
        return self.status_kib("VmHWM")

    def cpu_seconds(self):
        """CPU time of the server and of the children it waited for (git), user and system."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(ticks) for ticks in fields[11:15]) / os.sysconf("SC_CLK_TCK")

    def metric(self, name, labels):
        """The value of one sample of the server's /metrics, 0 when absent."""
        conn = http.client.HTTPConnection(*self.metrics_address.split(":"), timeout=60)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        pattern = re.compile(r"^" + re.escape(name) + r"\{" + re.escape(labels) + r"\} (\S+)", re.M)
        found = pattern.search(text)
        return float(found.group(1)) if found else 0.0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def p50(times):
    return statistics.median(times)


def run_quiet(command, **kwargs):
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=GIT_ENV, **kwargs)


def children_cpu():
    """CPU time (user and system) of this script's finished children, such as tokei."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Table:
    """The rows of the final markdown table."""

    def __init__(self):
        self.rows = []

    def add(self, what, result, reference="", target="", met=None):
        mark = "" if met is None else ("yes" if met else "**no**")
        self.rows.append((what, result, reference, target, mark))
        print(f"- {what}: {result}" + (f"; reference {reference}" if reference else "")
              + (f"; target {target}: {mark}" if target else ""), flush=True)

    def markdown(self):
        lines = ["| what | result | reference (same run) | target | met? |", "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def secs(seconds):
    return f"{seconds:.2f} s" if seconds >= 0.995 else ms(seconds)


def mem(kib):
    return f"{kib * 1024 / MB:.0f} MB ({kib / 1024:.0f} MiB)"


def default_binary():
    target = os.environ.get("CARGO_TARGET_DIR")
    return Path(target) / "release" / "codepup" if target else ROOT / "target" / "release" / "codepup"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=default_binary(),
                        help="the server (default: $CARGO_TARGET_DIR or target/, release/codepup)")
    parser.add_argument("--work", type=Path, help="work directory (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--only", nargs="+", choices=ROWS, help="measure only these rows")
    parser.add_argument("--runs", type=int, default=5, help="runs per median where cheap")
    parser.add_argument("--tokei", default=shutil.which("tokei") or "/tmp/tokei-cli/bin/tokei")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs of the measured project (job lists)")
    parser.add_argument("--store-jobs", type=int, help="jobs in the whole store (default: --jobs)")
    parser.add_argument("--projects", type=int, default=10, help="projects the store's jobs are spread over")
    parser.add_argument("--findings", type=int, default=1_000_000, help="findings of the findings-list fixture")
    parser.add_argument("--list-runs", type=int, default=100, help="calls per list query (p50, p95)")
    parser.add_argument("--seed-only", action="store_true",
                        help="list rows: write the fixture into --work and stop (measure later with --reuse)")
    parser.add_argument("--reuse", action="store_true",
                        help="list rows: measure the fixture already in --work (another binary's numbers)")
    parser.add_argument("--sarif-results", type=int, default=150_000)
    parser.add_argument("--sarif-tools", type=int, default=1,
                        help="split the SARIF results over this many tools (a run keeps at most 100,000)")
    parser.add_argument("--size-mb", type=float, default=80)
    parser.add_argument("--files", type=int, default=8000)
    parser.add_argument("--commits", type=int, default=20000)
    parser.add_argument("--tags", type=int, default=10000)
    parser.add_argument("--max-file-kb", type=int, default=256)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    args.only = set(args.only or ROWS)
    if "export" in args.only:
        args.only.add("store-sarif")  # the export needs the SARIF job
    if not args.binary.exists():
        sys.exit(f"no server at {args.binary}: build first (cargo build --release) or give --binary")
    if "count" in args.only and not shutil.which(args.tokei):
        sys.exit(f"no tokei at {args.tokei}: cargo install tokei --version 15.0.0 --locked "
                 "--root /tmp/tokei-cli, or give --tokei")

    work = args.work or Path(tempfile.mkdtemp(prefix="codepup-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    # Tools run as `nobody` when the server runs as root: the data directory's parents must let
    # others pass, and the SARIF report must be readable.
    os.chmod(work, 0o755)
    try:
        table = run_lists(args, work.resolve()) if args.only <= LIST_ROWS else run(args, work.resolve())
        print("\n" + table.markdown())
    finally:
        if args.keep or args.work:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def prepare_repo(args, work):
    repos = work / "repos"
    repo = repos / "bench.git"
    if repo.exists():
        print(f"reusing {repo}")
        shape = make_repo.describe(repo)
    else:
        repos.mkdir(parents=True, exist_ok=True)
        shape = make_repo.make_repo(repo, args)
    print("repository: " + json.dumps(shape), flush=True)
    return repos, repo, shape


def make_checkout(repo, checkout):
    """A plain tree of main's head, as a developer's checkout without `.git`."""
    shutil.rmtree(checkout, ignore_errors=True)
    checkout.mkdir(parents=True)
    archive = subprocess.Popen(["git", "archive", "main"], cwd=repo, env=GIT_ENV, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(checkout)], stdin=archive.stdout, check=True)
    assert archive.wait() == 0
    return git(repo, "rev-parse", "main").decode().strip()


def commit_one_file(repo, path, n):
    """Appends a line to `path` on main, in one commit made with fast-import (no work tree)."""
    marker = make_repo.COMMENT.get(os.path.splitext(path)[1], b"#")
    content = git(repo, "cat-file", "blob", f"main:{path}") + b"\n%s bench change %d\n" % (marker, n)
    message = f"bench: one-file change {n}\n".encode()
    stream = (b"commit refs/heads/main\ncommitter bench <bench@example.com> %d +0000\n" % (2000000000 + n)
              + b"data %d\n%s" % (len(message), message) + b"from refs/heads/main^0\n"
              + b"M 100644 inline %s\ndata %d\n%s\n\n" % (path.encode(), len(content), content))
    git(repo, "fast-import", "--quiet", input=stream)


class Bench:
    def __init__(self, args, work, repos, repo):
        self.args, self.work, self.repos, self.repo = args, work, repos, repo
        self.data = work / "data"
        shutil.rmtree(self.data, ignore_errors=True)
        self.server = None

    def start(self, tools_file=None):
        if self.server:
            self.server.stop()
        self.server = Server(self.args.binary, self.data, self.repos, self.args.workers, tools_file)
        return self.server

    def stop(self):
        if self.server:
            self.server.stop()
            self.server = None

    def setup(self):
        s = self.server
        s.call("POST", "v3/orgs/", {"name": "bench", "org_sid": "bench"})
        s.call("POST", "v3/orgs/bench/teams/", {"name": "t"})
        self.repo_id = s.call("POST", "orgs/bench/teams/t/repos/", {"scm_url": str(self.repo)})["id"]
        self.repo_path = f"orgs/bench/teams/t/repos/{self.repo_id}"
        self.schemes = 0

    def project(self, scheme=None, global_scheme_id=None):
        """A new project on main: with a new scheme of the repository made from `scheme`, or a
        copy of a global template."""
        self.schemes += 1
        if scheme is not None:
            made = self.server.call("POST", f"{self.repo_path}/initscheme/",
                                    {**scheme, "name": f"{scheme['name']}-{self.schemes}"})
            body = {"branch": "main", "scan_scheme_id": made["scan_scheme"]}
        else:
            body = {"branch": "main", "global_scheme_id": global_scheme_id,
                    "custom_scheme_name": f"template-{global_scheme_id}-{self.schemes}"}
        project = self.server.call("POST", f"{self.repo_path}/projects/", body)
        return f"{self.repo_path}/projects/{project['id']}", project["id"]

    def scan(self, base, incr, codes=(0, 1)):
        job = self.server.call("POST", f"{base}/scans/create/", {"incr_scan": incr, "async_flag": False})["job"]
        if job["result_code"] not in codes:
            log = self.server.call("GET", f"{base}/jobs/{job['id']}/log/", raw=True)
            raise RuntimeError(f"job {job}\n{log}")
        return job

    def log(self, base, job):
        return self.server.call("GET", f"{base}/jobs/{job['id']}/log/", raw=True)


COUNT_SCHEME = {"name": "count"}


def run(args, work):
    load_start = os.getloadavg()[0]
    repos, repo, shape = prepare_repo(args, work)
    table = Table()
    table.add("benchmark repository",
              f"{shape['bytes'] / MB:.1f} MB in {shape['files']:,} files at main; {shape['commits']:,} commits "
              f"({shape['main_commits']:,} on main), {shape['tags']:,} tags, {len(shape['branches'])} branches; "
              f"pack {shape['pack_bytes'] / MB:.1f} MB")
    checkout = work / "checkout"
    head = make_checkout(repo, checkout)
    print(f"main at {head}", flush=True)
    bench = Bench(args, work, repos, repo)
    try:
        bench.start()
        bench.setup()
        base, _ = bench.project(COUNT_SCHEME)
        first, _ = timed(lambda: bench.scan(base, False))
        print(f"first full scan (with the clone): {first:.2f} s", flush=True)
        if "count" in args.only:
            measure_count(bench, table, base, checkout)
        if "repeat" in args.only:
            measure_repeat(bench, table, base)
        if "incr" in args.only:
            measure_incremental(bench, table, base, work)
        if "checker" in args.only:
            measure_checker(bench, table, shape, checkout)
        if "store-default" in args.only:
            measure_store_default(bench, table)
        if "store-sarif" in args.only:
            measure_store_sarif(bench, table, work, checkout)
        if "create" in args.only:
            bench.start()
            if "create" in args.only:
                measure_create(bench, table, base)
    finally:
        bench.stop()
    # Other work on the machine moves every time here; say how much there was.
    table.add("machine load (1-minute load average at the start / the end; cores)",
              f"{load_start:.1f} / {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores")
    return table


def clear_result_cache(bench):
    """Empties the server's result cache (shared by a repository's projects), so the next scan
    reads every blob. SQLite in WAL mode lets this connection write while the server runs."""
    db = sqlite3.connect(bench.data / "codepup.db", timeout=30)
    with db:
        for table in ("file_results", "project_file_results"):
            try:
                db.execute(f"DELETE FROM {table}")
            except sqlite3.OperationalError:
                pass  # a server older than the shared result cache
    db.close()


def measure_count(bench, table, base, checkout):
    args = bench.args
    # Cold: a new project on the same (already cloned) repository, with the result cache emptied
    # first, so every blob is read from git and counted.
    cold, cold_cpu, shared = [], [], []
    for _ in range(args.runs):
        clear_result_cache(bench)
        cold_base, _ = bench.project(COUNT_SCHEME)
        cpu = bench.server.cpu_seconds()
        cold.append(timed(lambda: bench.scan(cold_base, True, codes=(0,)))[0])
        cold_cpu.append(bench.server.cpu_seconds() - cpu)
        # A second new project on the repository starts from the first one's results.
        second_base, _ = bench.project(COUNT_SCHEME)
        shared.append(timed(lambda: bench.scan(second_base, True, codes=(0,)))[0])
    warm = []
    for _ in range(args.runs):
        warm.append(timed(lambda: bench.scan(base, False))[0])
    run_quiet([args.tokei, str(checkout)])  # page cache warm
    tokei_cpu = children_cpu()
    tokei = p50([timed(lambda: run_quiet([args.tokei, str(checkout)]))[0] for _ in range(args.runs)])
    tokei_cpu = (children_cpu() - tokei_cpu) / args.runs
    cold_p50 = p50(cold)
    print(f"cold counts: {', '.join(f'{t:.2f}' for t in cold)} s; tokei p50 {tokei:.3f} s", flush=True)
    # On a loaded machine wall times move with the other work; CPU seconds much less.
    table.add("cold count: CPU seconds (server and its git children; tokei)",
              f"{p50(cold_cpu):.2f} s = {p50(cold_cpu) / tokei_cpu:.2f}x tokei (p50 of {args.runs})",
              f"`tokei`: {tokei_cpu:.2f} s (mean of {args.runs})")
    table.add("cold count: new project on the cached repo, count-only scheme, client wait",
              f"{secs(cold_p50)} = {cold_p50 / tokei:.1f}x tokei (p50 of {args.runs})",
              f"`tokei` on a checkout of the same revision: {secs(tokei)}",
              f"≤ 1.2x tokei = {secs(1.2 * tokei)}", cold_p50 <= 1.2 * tokei)
    table.add("second new project on the repository, count-only scheme, client wait (shared cache)",
              f"{secs(p50(shared))} = {p50(shared) / tokei:.1f}x tokei (p50 of {args.runs})")
    table.add("warm count: repeat full scan of a count-only project (old row)",
              f"{secs(p50(warm))} = {p50(warm) / tokei:.1f}x tokei (p50 of {args.runs})")


def measure_repeat(bench, table, base):
    args = bench.args
    scans, refs = [], []
    for _ in range(args.runs):
        refs.append(timed(lambda: run_quiet(["git", "ls-remote", str(bench.repo), "refs/heads/main"]))[0])
        scans.append(timed(lambda: bench.scan(base, False))[0])
    scan, ref = p50(scans), p50(refs)
    table.add("repeat full scan (`incr_scan=false`) at an unchanged head, count-only scheme, client wait",
              f"{secs(scan)} (p50 of {args.runs})", f"`git ls-remote` of the branch: {ms(ref)}",
              f"≤ ls-remote + 50 ms = {ms(ref + 0.05)}", scan <= ref + 0.05)


def measure_incremental(bench, table, base, work):
    args = bench.args
    cache = work / "refcache.git"
    shutil.rmtree(cache, ignore_errors=True)
    run_quiet(["git", "init", "-q", "--bare", str(cache)])
    fetch = ["git", "-c", "gc.auto=0", "--git-dir", str(cache), "fetch", "--quiet", "--no-tags",
             str(bench.repo), "+refs/heads/main:refs/heads/main"]
    run_quiet(fetch)
    bench.scan(base, True)  # the baseline is main's head
    tree = git(bench.repo, "ls-tree", "-r", "--name-only", "main").decode().splitlines()
    path = next((p for p in tree if p.endswith(".rs")), tree[0])
    scans, refs, scan_cpu, ref_cpu = [], [], [], []
    for n in range(args.runs):
        commit_one_file(bench.repo, path, n)
        cpu = children_cpu()
        refs.append(timed(lambda: run_quiet(fetch))[0])
        ref_cpu.append(children_cpu() - cpu)
        cpu = bench.server.cpu_seconds()
        elapsed, job = timed(lambda: bench.scan(base, True, codes=(0,)))
        scan_cpu.append(bench.server.cpu_seconds() - cpu)
        scans.append(elapsed)
    print("job log of the last incremental scan:\n" + bench.log(base, job), flush=True)
    table.add("incremental scan: CPU seconds (server and its git children; the fetch)",
              f"{ms(p50(scan_cpu))} (p50 of {args.runs})", f"the fetch: {ms(p50(ref_cpu))}")
    scan, ref = p50(scans), p50(refs)
    table.add("incremental scan after a one-file commit, count-only scheme, client wait",
              f"{secs(scan)} (p50 of {args.runs})",
              f"`git fetch --no-tags` of main into a single-branch bare cache: {ms(ref)}",
              f"≤ 1.2x fetch + 30 ms = {ms(1.2 * ref + 0.03)}", scan <= 1.2 * ref + 0.03)


def measure_checker(bench, table, shape, checkout):
    """The built-in checker alone: a lint-only scheme, timed by the task itself (job log)."""
    base, _ = bench.project({"name": "checker", "cloc_scan_enabled": False, "lint_enabled": True,
                             "tools": ["codepup"]})
    checker_ms = []
    for _ in range(3):
        job = bench.scan(base, False)
        log = bench.log(base, job)
        checker_ms.append(next(int(line.split()[3]) for line in log.splitlines()
                               if line.startswith("task codepup took")))
    # The first run reads every file; later full scans reuse the results for unchanged blobs.
    cold = checker_ms[0] / 1000
    warm = statistics.median(checker_ms[1:]) / 1000
    files = [str(p) for p in checkout.rglob("*") if p.is_file()]
    cat = p50([timed(lambda: subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True))[0]
               for _ in range(3)])
    table.add("built-in checker over the whole tree, cold (task time, old row)",
              f"{secs(cold)} = {shape['bytes'] / MB / cold:.0f} MB/s; repeat {secs(warm)}",
              f"`cat` of the same files: {secs(cat)} = {shape['bytes'] / MB / cat:.0f} MB/s")


def store_phase(server):
    return (server.metric("codepup_phase_seconds_count", 'phase="store"'),
            server.metric("codepup_phase_seconds_sum", 'phase="store"'))


def store_seconds(bench, base, job, before):
    """The store phase of `job`, and its log. The server wakes a waiting client inside the close,
    before it records the phase and writes the log's last lines, so both are awaited here."""
    deadline = time.time() + 60
    while True:
        count, total = store_phase(bench.server)
        log = bench.log(base, job)
        if (count > before[0] and "closed with" in log) or time.time() > deadline:
            return total - before[1], log
        time.sleep(0.05)


def store_cpu(log):
    """The store phase's CPU time from the job log (servers since issue 14's storefast say it),
    as text for the table; the wall time on a loaded machine says more about the neighbours."""
    found = re.search(r"stored the results in \d+ ms \((\d+) ms of CPU\)", log)
    return f", {int(found.group(1)):,} ms of CPU" if found else ""


def findings_seen(log):
    found = re.search(r"^findings: (\d+) seen", log, re.M)
    return int(found.group(1)) if found else 0


def measure_store_default(bench, table):
    """The first scan of a new default-template project, on a fresh server process."""
    server = bench.start()
    base, _ = bench.project(global_scheme_id=1)
    before = store_phase(server)
    elapsed, job = timed(lambda: bench.scan(base, False, codes=(0,)))
    store, log = store_seconds(bench, base, job, before)
    peak = server.rss_peak_kib()
    print("job log of the default-template scan:\n" + log, flush=True)
    table.add("storing findings, default template, first scan (server's `store` phase)",
              f"{secs(store)} for {findings_seen(log):,} findings (scan {secs(elapsed)})", "",
              "≤ 1 s", store <= 1.0)
    table.add("server peak RSS during that scan (VmHWM, fresh server)", mem(peak), "", "≤ 150 MB",
              peak * 1024 <= 150 * MB)


def write_sarif(args, work, checkout):
    """`--sarif-results` results over files of the checkout, at lines they have, split over
    `--sarif-tools` reports; answers the tools.toml that prints them."""
    rng = random.Random(args.seed)
    files = []
    for path in sorted(checkout.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                lines = handle.read().count(b"\n")
            if lines:
                files.append((str(path.relative_to(checkout)), lines))
    rules = [(f"bench-rule-{n:03d}", rng.choice(["error", "warning", "note"])) for n in range(60)]
    sarif_dir = work / "sarif"
    sarif_dir.mkdir(exist_ok=True)
    os.chmod(sarif_dir, 0o755)
    tools = []
    per_tool = args.sarif_results // args.sarif_tools
    for t in range(args.sarif_tools):
        results = []
        for _ in range(per_tool):
            path, lines = rng.choice(files)
            rule, level = rng.choice(rules)
            results.append({
                "ruleId": rule, "level": level,
                "message": {"text": f"{rule}: this construct is flagged by the benchmark's SARIF tool"},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": path},
                    "region": {"startLine": rng.randint(1, lines), "startColumn": rng.randint(1, 40)}}}],
            })
        log = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
               "runs": [{"tool": {"driver": {"name": f"bench-sarif-{t}", "version": "1.0",
                                             "rules": [{"id": r, "defaultConfiguration": {"level": lv}}
                                                       for r, lv in rules]}},
                         "results": results}]}
        report = sarif_dir / f"report-{t}.sarif"
        report.write_text(json.dumps(log))
        os.chmod(report, 0o644)
        tools.append((f"bench-sarif-{t}", report))
    tools_file = work / "tools.toml"
    tools_file.write_text("".join(
        f'[[tool]]\nname = "{name}"\nmodule = "codelint"\ncommand = ["/bin/cat", "{report}"]\n'
        f'format = "sarif"\nread_paths = ["{report}"]\ntimeout = 1800\n\n' for name, report in tools))
    size = sum(report.stat().st_size for _, report in tools)
    print(f"SARIF: {args.sarif_results:,} results in {len(tools)} report(s) of {size / MB:.1f} MB", flush=True)
    return tools_file, [name for name, _ in tools]


def measure_store_sarif(bench, table, work, checkout):
    args = bench.args
    tools_file, tools = write_sarif(args, work, checkout)
    server = bench.start(tools_file)
    base, _ = bench.project({"name": "sarif", "lint_enabled": True, "languages": ["python"],
                             "tools": tools, "cloc_scan_enabled": False})
    before = store_phase(server)
    elapsed, job = timed(lambda: bench.scan(base, False, codes=(0,)))
    store, log = store_seconds(bench, base, job, before)
    peak = server.rss_peak_kib()
    print("job log of the SARIF scan:\n" + log, flush=True)
    seen = findings_seen(log)
    what = f"{args.sarif_results:,} results" + (f" from {len(tools)} tools" if len(tools) > 1 else "")
    table.add(f"storing findings, SARIF tool reporting {what} (server's `store` phase)",
              f"{secs(store)} for {seen:,} findings stored{store_cpu(log)} (scan {secs(elapsed)})", "",
              "≤ 1 s", store <= 1.0)
    table.add("server peak RSS during that scan (VmHWM, fresh server)", mem(peak), "", "≤ 150 MB",
              peak * 1024 <= 150 * MB)
    if "export" in args.only:
        measure_export(bench, table, base, job, tools_file, seen)


def measure_export(bench, table, base, job, tools_file, seen):
    server = bench.start(tools_file)
    before = server.rss_peak_kib()
    path = f"/server/main/api/{base}/jobs/{job['id']}/sarif/"
    elapsed, (status, content) = timed(lambda: server.request("GET", path))
    assert status == 200, content[:500]
    peak = server.rss_peak_kib()
    after = server.status_kib("VmRSS")
    time.sleep(2)
    settled = server.status_kib("VmRSS")
    results = sum(len(run["results"]) for run in json.loads(content)["runs"])
    table.add(f"SARIF export `jobs/<id>/sarif/` of that job ({results:,} results, {len(content) / MB:.0f} MB), wall",
              secs(elapsed), "", "≤ 2 s", elapsed <= 2.0)
    table.add("server peak RSS during the export (VmHWM, fresh server)",
              f"{mem(peak)} (fresh server {mem(before)})", "", "≤ 150 MB", peak * 1024 <= 150 * MB)
    table.add("server RSS after the export (right after / 2 s later)", f"{mem(after)} / {mem(settled)}")
    if results != seen:
        print(f"note: the export has {results} results, the scan stored {seen}")


def run_lists(args, work):
    """The list rows alone, on a one-commit repository: projects made through the API, then the
    fixture written into the database with the server stopped, then the lists read over HTTP."""
    load_start = os.getloadavg()[0]
    # The fixture's jobs span the year up to today: a retention pass (a minute after each start)
    # would delete half of them while the lists are measured.
    os.environ["CODEPUP_RETAIN_DAYS"] = "36500"
    repos = work / "repos"
    repo = repos / "tiny"
    if not repo.exists():
        repo.mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
        (repo / "README.md").write_text("tiny\n")
        git(repo, "add", "README.md")
        git(repo, "commit", "-q", "-m", "one")
    table = Table()
    data = work / "data"
    if args.reuse and (data / "codepup.db").exists():
        # The fixture of an earlier run (e.g. measured by another binary): kept as it is.
        data.rename(work / "kept")
        bench = Bench(args, work, repos, repo)
        (work / "kept").rename(data)
    else:
        bench = Bench(args, work, repos, repo)
    try:
        db_path = bench.data / "codepup.db"
        if args.reuse and db_path.exists():
            base, project_id, last_job, scans = lists.read_fixture(db_path)
        else:
            base, project_id, last_job, scans = seed_lists(bench, args, db_path)
        store_jobs = args.store_jobs or args.jobs
        size = db_path.stat().st_size
        if args.seed_only:
            table.add("fixture", f"{size / MB:,.0f} MB written, not measured (--seed-only)")
            return table
        bench.start()
        table.add("fixture", f"{args.jobs:,} jobs in the measured project, {store_jobs:,} in {args.projects} "
                  f"projects, {args.findings if 'findings' in args.only else 0:,} findings; database {size / MB:,.0f} MB")
        if "joblist" in args.only:
            measure_job_lists(bench, table, base)
        if "findings" in args.only and scans:
            measure_findings_list(bench, table, base, scans, last_job)
    finally:
        bench.stop()
    table.add("machine load (1-minute load average at the start / the end; cores)",
              f"{load_start:.1f} / {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores")
    return table


def seed_lists(bench, args, db_path):
    """Projects through the API, then the fixture straight into the database, server stopped."""
    bench.start()
    bench.setup()
    base, project_id = bench.project(COUNT_SCHEME)
    others = [bench.project(COUNT_SCHEME)[1] for _ in range(args.projects - 1)]
    bench.stop()
    started = time.perf_counter()
    last_job = lists.seed_jobs(db_path, project_id, others, args.jobs, args.store_jobs or args.jobs)
    print(f"jobs written in {time.perf_counter() - started:.0f} s", flush=True)
    scans = []
    if "findings" in args.only:
        started = time.perf_counter()
        scans = lists.seed_findings(db_path, project_id, last_job, args.findings)
        print(f"findings written in {time.perf_counter() - started:.0f} s", flush=True)
    return base, project_id, last_job, scans


def measure_job_lists(bench, table, base):
    args, server = bench.args, bench.server
    store = args.store_jobs or args.jobs
    api = "/server/main/api/"
    lists.measure(server, table, f"project job list, {args.jobs:,} jobs", f"{api}{base}/jobs/", lists.JOB_QUERIES,
                  args.list_runs, lists.job_target)
    lists.measure(server, table, f"`v3/jobs/`, {store:,} jobs", f"{api}v3/jobs/", lists.JOB_QUERIES,
                  args.list_runs, lists.job_target)
    lists.measure(server, table, f"`v2/jobs/`, {store:,} jobs", f"{api}v2/jobs/",
                  {**lists.JOB_QUERIES, **lists.ADMIN_EXTRA}, args.list_runs, lists.job_target)


def measure_findings_list(bench, table, base, scans, last_job):
    args, server = bench.args, bench.server
    queries = {name: query.format(scan=scans[40], last_scan=scans[-1], job=last_job)
               for name, query in lists.ISSUE_QUERIES.items()}
    # The findings list answers on TCA's analysis paths.
    server_path = f"/server/analysis/api/{base}/codelint/issues/"
    lists.measure(server, table, f"findings list, {args.findings:,} findings", server_path, queries,
                  args.list_runs, lists.job_target)


def wait_idle(server, base):
    peak = 0
    deadline = time.time() + 3600
    while time.time() < deadline:
        peak = max(peak, server.rss_peak_kib())
        if server.call("GET", f"{base}/jobs/?state=0,1,3,4,5&limit=1")["count"] == 0:
            break
        time.sleep(0.5)
    return peak


class RawClient:
    """A keep-alive HTTP/1.1 client on a bare socket: one request's bytes made once and sent as
    they are, the answer read by its Content-Length (no header parsing beyond that). Far less
    CPU per request than `http.client`, so the server's rate shows more of itself."""

    def __init__(self, server, path, body):
        payload = json.dumps(body).encode()
        self.request = (f"POST /server/main/api/{path} HTTP/1.1\r\nHost: {server.host}\r\n"
                        f"Authorization: Token {TOKEN}\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        self.address = (server.host, int(server.port))
        self.sock = None
        self.connect()

    def connect(self):
        """A new connection: the server closes one that sends nothing for 5 s (408), as while
        the queue of a burst drains."""
        if self.sock is not None:
            self.sock.close()
        self.sock = socket.create_connection(self.address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def call(self):
        """Sends the request once; the answer's body (raises on a status other than 200)."""
        self.sock.sendall(self.request)
        while b"\r\n\r\n" not in self.buffer:
            self.receive()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace"))
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        while len(self.buffer) < length:
            self.receive()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return body

    def receive(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        self.buffer += chunk

    def close(self):
        self.sock.close()


def measure_create(bench, table, base):
    """`scans/create` (async, force_create so every request makes a job), in bursts of 200 from
    one keep-alive connection, each burst starting with an idle queue: with `http.client` (the
    bench's client) and with `RawClient` (a client of far less CPU)."""
    body = {"force_create": True, "incr_scan": False}
    create_bursts(bench, table, base, "", lambda: bench.server.call("POST", f"{base}/scans/create/", body))
    raw = RawClient(bench.server, f"{base}/scans/create/", body)
    try:
        create_bursts(bench, table, base, ", raw-socket client", raw.call, raw.connect)
    finally:
        raw.close()


def create_bursts(bench, table, base, label, call, before_burst=lambda: None):
    """`--runs`/2 (at least 3) bursts of 200 `call`s, each once the queue is idle (and after
    `before_burst`); one row."""
    args, server = bench.args, bench.server
    n = 200
    rates, server_cpu, client_cpu = [], [], []
    peak = 0
    for _ in range(max(3, args.runs // 2)):
        before_burst()
        server_before, client_before = server.request_cpu_seconds(), time.process_time()
        elapsed, _ = timed(lambda: [call() for _ in range(n)])
        client_cpu.append((time.process_time() - client_before) / n)
        server_cpu.append((server.request_cpu_seconds() - server_before) / n)
        rates.append(n / elapsed)
        peak = max(peak, wait_idle(server, base))
    rate = p50(rates)
    # CPU per request (the server's from `schedstat`, exact): what the rate would be on a
    # quiet machine is about 1 / (server + client).
    table.add(f"`scans/create` (async), one keep-alive client{label}",
              f"{rate:,.0f} requests/s (p50 of {len(rates)} bursts of {n}: "
              f"{', '.join(f'{r:,.0f}' for r in rates)}); CPU per request: server "
              f"{p50(server_cpu) * 1e6:,.0f} µs (threads but the scan workers), client "
              f"{p50(client_cpu) * 1e6:,.0f} µs", "", "≥ 2,000/s", rate >= 2000)
    table.add(f"server peak RSS while the {n * len(rates)} queued full scans ran{label}", mem(peak))

if __name__ == "__main__":
    main()
