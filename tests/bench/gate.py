#!/usr/bin/env python3
"""What the quality gate costs a close (issue 11): the `store` phase of scans that open or see
many findings, on a scheme with thresholds and, as the reference in the same run, on the same
scheme without them. The verdict is measured in the close transaction (`db::gate::judge_job`).

    cargo build --release
    python3 tests/bench/gate.py [--findings 20000] [--runs 5] [--binary PATH]

The repository and its SARIF tool are notify.py's: one file, a result on each of its lines, here
at level `error`, so every finding counts for `gate_max_new_errors`; the built-in checker runs
too (it finds nothing there), so `gate_no_new_secrets` is measured. Each run makes two new
projects (gated, plain) and scans each twice: the first scan opens every finding (all new), the
second, a full scan of the same commit, sees them again (the gate still counts them: they were
first seen at this revision); the third scans a new commit that adds a note, so the 20,000 stay
open and none is new (the gate must not read them all). Prints a Markdown table for BENCHMARKS.md; loopback only.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import bench  # tests/bench/bench.py: Server, Table, p50, secs, store_phase
from notify import make_repo

GATE = {"gate_max_new_errors": 0, "gate_no_new_secrets": True}


def scan_store(server, base):
    """A full scan of the project at `base`; its `store` phase in seconds, and its job."""
    before = bench.store_phase(server)
    job = server.call("POST", f"{base}/scans/create/", {"incr_scan": False, "async_flag": False})["job"]
    assert job["result_code"] == 0, job
    deadline = time.time() + 60
    while bench.store_phase(server)[0] <= before[0] and time.time() < deadline:
        time.sleep(0.02)
    return bench.store_phase(server)[1] - before[1], job


def commit_unflagged(repo):
    """A new commit the tool finds nothing new in."""
    (repo / f"notes-{time.monotonic_ns()}.md").write_text("nothing to flag\n")
    bench.git(repo, "add", "-A")
    bench.git(repo, "commit", "-q", "-m", "a note")


def project(server, repo_path, gate):
    scheme = {"name": f"s{time.monotonic_ns()}", "lint_enabled": True, "languages": ["python"],
              "tools": ["flagger", "codepup"], "cloc_scan_enabled": False, **(GATE if gate else {})}
    scheme_id = server.call("POST", f"{repo_path}/initscheme/", scheme)["scan_scheme"]
    made = server.call("POST", f"{repo_path}/projects/", {"branch": "main", "scan_scheme_id": scheme_id})
    return f"{repo_path}/projects/{made['id']}"


def measure(args, work):
    repo, tools = make_repo(work, args.findings)
    report = work / "report.sarif"
    report.write_text(report.read_text().replace('"level": "warning"', '"level": "error"'))
    server = bench.Server(args.binary, work / "data", work / "repos", 2, tools)
    table = bench.Table()
    times = {(gate, scan): [] for gate in (True, False) for scan in ("first", "again", "later")}
    try:
        server.call("POST", "v3/orgs/", {"name": "bench", "org_sid": "bench"})
        server.call("POST", "v3/orgs/bench/teams/", {"name": "t"})
        repo_id = server.call("POST", "orgs/bench/teams/t/repos/", {"scm_url": str(repo)})["id"]
        repo_path = f"orgs/bench/teams/t/repos/{repo_id}"
        for _ in range(args.runs):
            for gate in (True, False):
                base = project(server, repo_path, gate)
                for scan in ("first", "again", "later"):
                    if scan == "later":
                        commit_unflagged(repo)
                    seconds, job = scan_store(server, base)
                    times[(gate, scan)].append(seconds)
                    expected = 1 if gate else 0
                    assert (job["gate"] is not None) == bool(expected), job
                    if gate and scan == "later":
                        assert job["gate"]["passed"], json.dumps(job)
                    elif gate:
                        assert job["gate"]["reasons"] == [
                            f"{args.findings:,} new findings of severity error or worse (at most 0 allowed)"
                            .replace(",", "")], json.dumps(job)
        for scan, what in (("first", f"first scan opening {args.findings:,} error findings"),
                           ("again", "full scan of the same commit seeing them again"),
                           ("later", f"full scan of a later commit: {args.findings:,} open, none new")):
            table.add(f"close of a {what}, gate on errors and secrets (`store` phase, p50 of {args.runs})",
                      bench.secs(bench.p50(times[(True, scan)])),
                      f"{bench.secs(bench.p50(times[(False, scan)]))} without thresholds")
    finally:
        server.stop()
    print(table.markdown())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=bench.default_binary())
    parser.add_argument("--findings", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codepup-gate-bench-") as work:
        measure(args, Path(work))


if __name__ == "__main__":
    main()
