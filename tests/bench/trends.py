"""The status page's trend series (issue 11): what `.../projects/<id>/trends/?limit=100` costs on a
project of a few hundred real scans with thousands of findings each, against recounting the same
series from the findings at read time.

The fixture is made by the server itself: a repository whose files hold `--findings` lines (500
a file) that the built-in checker reports (merge-conflict markers, each with its own text, so each is its
own finding), and `--scans` commits, each moving every file's window of markers on by `--churn`
(so every scan opens and fixes `--churn` a file), each scanned (incremental, `async_flag=false`). Every job then has its findings in
`job_issues` (what it saw) and one `job_lint_counts` row (what its close stored).

Measured, in the same run, p50 of `--runs`:
- the endpoint over HTTP (`trends/?limit=100`), as the page calls it, beside the project's own
  record (`GET .../projects/<id>/`), what any request costs;
- its one SQL query (`db::trends::series`) in Python's sqlite3 on the server's file;
- the reference: the same series recounted from the findings, in sqlite3 on the same file:
  per job of the last 100, the findings it saw by severity (`job_issues` joined with `issues`),
  how many it opened (`issues.scan_open`) and fixed (`issues.scan_fix`).

Usage: python3 tests/bench/trends.py [--binary target/release/codepup] [--scans 300]
"""

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # sibling script: its Server, git and default binary

SERIES = """SELECT j.id, j.scan_id, s.scan_type, s.scm_revision, j.create_time, j.end_time,
    j.code_line_num, j.comment_line_num, j.blank_line_num, j.total_line_num,
    l.opened, l.reopened, l.fixed, l.open_fatal, l.open_error, l.open_warning, l.open_info,
    c.threshold, c.cc_open_num, c.func_num, c.diff_cc_num, c.cc_fix_num,
    d.duplicate_rate, d.duplicate_line_count, d.total_line_count, d.duplicate_block_count
 FROM jobs j
 LEFT JOIN scans s ON s.id = j.scan_id
 LEFT JOIN job_lint_counts l ON l.job_id = j.id
 LEFT JOIN cc_scans c ON c.job_id = j.id
 LEFT JOIN dup_scans d ON d.job_id = j.id
 WHERE j.project_id = ?1 AND j.result_code = 0
 ORDER BY j.id DESC LIMIT ?2"""

RECOUNT = """WITH last AS (
   SELECT id, scan_id FROM jobs WHERE project_id = ?1 AND result_code = 0 ORDER BY id DESC LIMIT ?2)
 SELECT last.id,
   (SELECT COUNT(*) FROM job_issues ji JOIN issues i ON i.id = ji.issue_id
     WHERE ji.job_id = last.id AND i.severity = 1),
   (SELECT COUNT(*) FROM job_issues ji JOIN issues i ON i.id = ji.issue_id
     WHERE ji.job_id = last.id AND i.severity = 2),
   (SELECT COUNT(*) FROM job_issues ji JOIN issues i ON i.id = ji.issue_id
     WHERE ji.job_id = last.id AND i.severity = 3),
   (SELECT COUNT(*) FROM job_issues ji JOIN issues i ON i.id = ji.issue_id
     WHERE ji.job_id = last.id AND i.severity = 4),
   (SELECT COUNT(*) FROM issues WHERE scan_open = last.scan_id),
   (SELECT COUNT(*) FROM issues WHERE scan_fix = last.scan_id)
 FROM last ORDER BY last.id"""


PER_FILE = 500  # the checker reports at most 1,000 findings of a file


def write_markers(repo, first, findings):
    """`findings` markers numbered from `first`, `PER_FILE` a file."""
    for index, start in enumerate(range(0, findings, PER_FILE)):
        numbers = range(first + start, first + min(findings, start + PER_FILE))
        (repo / f"markers{index}.txt").write_text("".join(f"<<<<<<< change {n}\n" for n in numbers))


def commit(repo, first, findings, message):
    write_markers(repo, first, findings)
    bench.git(repo, "add", "-A")
    bench.git(repo, "commit", "-q", "-m", message)


def p50_ms(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def make_fixture(args, work):
    repos = work / "repos"
    repo = repos / "markers"
    repo.mkdir(parents=True)
    bench.git(repo, "init", "-q", "-b", "main")
    commit(repo, 0, args.findings, "start")
    server = bench.Server(args.binary, work / "data", repos, 2)
    server.call("POST", "v3/orgs/", {"name": "bench", "org_sid": "bench"})
    server.call("POST", "v3/orgs/bench/teams/", {"name": "t"})
    repo_id = server.call("POST", "orgs/bench/teams/t/repos/", {"scm_url": str(repo)})["id"]
    project = server.call("POST", f"orgs/bench/teams/t/repos/{repo_id}/projects/",
                          {"branch": "main", "global_scheme_id": 1})
    base = f"orgs/bench/teams/t/repos/{repo_id}/projects/{project['id']}"
    started = time.perf_counter()
    for n in range(args.scans):
        if n:
            commit(repo, n * args.churn, args.findings, f"scan {n}")
        job = server.call("POST", f"{base}/scans/create/", {"incr_scan": n > 0, "async_flag": False})["job"]
        if job["result_code"] != 0:
            sys.exit(f"scan {n} closed with {job}")
        if n % 50 == 49:
            print(f"  {n + 1} scans in {time.perf_counter() - started:.0f} s", flush=True)
    return server, base, project["id"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", type=Path, default=bench.default_binary())
    parser.add_argument("--scans", type=int, default=300)
    parser.add_argument("--findings", type=int, default=2000, help="findings every scan sees")
    parser.add_argument("--churn", type=int, default=20, help="findings each commit replaces in each file")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="codepup-trends-"))
    try:
        server, base, project_id = make_fixture(args, work)
        db = sqlite3.connect(work / "data" / "codepup.db")
        seen = db.execute("SELECT COUNT(*) FROM job_issues").fetchone()[0]
        stored = db.execute(SERIES, (project_id, 100)).fetchall()
        recounted = db.execute(RECOUNT, (project_id, 100)).fetchall()
        assert len(stored) == len(recounted) == min(100, args.scans)
        http = p50_ms(lambda: server.call("GET", f"{base}/trends/?limit=100"), args.runs)
        floor = p50_ms(lambda: server.call("GET", f"{base}/"), args.runs)
        series = p50_ms(lambda: db.execute(SERIES, (project_id, 100)).fetchall(), args.runs)
        recount = p50_ms(lambda: db.execute(RECOUNT, (project_id, 100)).fetchall(), args.runs)
        server.stop()
        print(f"\n{args.scans} scans, {args.findings:,} findings each ({seen:,} job_issues rows), "
              f"binary {args.binary}")
        print("| what (last 100 scans) | p50 |\n|---|---|")
        print(f"| `GET trends/?limit=100` over HTTP | {http:.2f} ms |")
        print(f"| reference: `GET .../projects/<id>/` (one project) over HTTP | {floor:.2f} ms |")
        print(f"| its query (`db::trends::series`), sqlite3 | {series:.2f} ms |")
        print(f"| reference: recounted from `job_issues`/`issues`, sqlite3 | {recount:.2f} ms |")
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
