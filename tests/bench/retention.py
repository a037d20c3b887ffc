#!/usr/bin/env python3
"""How long a retention pass holds SQLite's write lock (issue 9: "never block the workers or the
API for more than ~50 ms"), measured; numbers go in BENCHMARKS.md.

Run from the repository root after `cargo build --release`:

    python3 tests/bench/retention.py [--projects 10] [--jobs 20000] [--sightings 20] [--big 100000]

The fixture is written straight into a fresh database (the API's write path would take hours
for this many jobs): `--projects` projects of `--jobs` closed jobs each, 90 % of them closed 400
days ago, each job with its scan row, two tasks with three progress steps each, five line counts
and `--sightings` sightings of the project's findings (1,000 a project, 100 of them open); one
old job holds `--big` sightings of its own. Foreign keys are off while seeding (the rows above
projects are not made).

Then, in the same run:

- pass: `codepup prune --retain-jobs 50` (release binary) on the file, while a writer thread
  commits a one-row transaction every 2 ms (`BEGIN IMMEDIATE`, like the server's workers and
  API) and records how long each waited and took: the longest wait is what retention cost a
  writer. The pass also reports its own longest write transaction.
- reference: the same jobs deleted from a copy of the file with one statement per table in one
  transaction, as a naive implementation would: how long the write lock is held without batches.

Store mode, a store of millions of jobs (the list benchmark's jobs over a year, see `seed_store`):

    python3 tests/bench/retention.py --store-jobs 2000000 --work DIR [--binary B]
        [--steps dry server pass] [--retain-days 30] [--term-after 20] [--pass-timeout 1800]

seeds `DIR/pristine.db` once (kept; delete DIR when done), then runs each step on a fresh copy:
`dry` times `codepup prune --dry-run`; `server` starts `codepup serve`, sends SIGTERM
`--term-after` seconds into its first pass and times the exit; `pass` runs `codepup prune` (stopped
after `--pass-timeout`) while the one-row writer above records its commits. Each step prints the
pass's phase lines and a table row.
"""

import argparse
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lists  # noqa: E402  (a sibling script, not a package)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "codepup")


def stored(seconds_ago):
    moment = time.gmtime(time.time() - seconds_ago)
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", moment)


def seed(path, args):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    old, new = stored(400 * 86400), stored(3600)
    job_id = 0
    for project in range(1, args.projects + 1):
        conn.execute(
            "INSERT INTO projects (id, repo_id, branch, scan_scheme_id, project_key, created_time)"
            " VALUES (?, 1, 'main', 1, ?, ?)", (project, f"bench-{project}", old))
        first_issue = (project - 1) * 1000 + 1
        conn.executemany(
            "INSERT INTO issues (id, project_id, fingerprint, tool, rule, path, line, column_no,"
            " severity, category, message, state, resolution, created_time, modified_time)"
            " VALUES (?, ?, ?, 'codepup', 'rule', ?, 1, 1, 3, 'style', 'a message', ?, ?, ?, ?)",
            [(first_issue + i, project, f"fp-{project}-{i}", f"src/file{i}.py",
              1 if i < 100 else 2, 0 if i < 100 else 1, old, old) for i in range(1000)])
        jobs, scans, tasks, steps, counts, sightings = [], [], [], [], [], []
        for n in range(args.jobs):
            job_id += 1
            when = old if n < args.jobs * 9 // 10 else new
            scans.append((job_id, project, 2, f"{job_id:040x}", when))
            jobs.append((job_id, project, job_id, when, when, 0 if n % 3 else 211))
            for t in range(2):
                task_id = job_id * 2 + t
                tasks.append((task_id, job_id, f"tool{t}", when))
                steps.extend((task_id, rate, when) for rate in (0, 50, 100))
            counts.extend((job_id, f"Lang{k}") for k in range(5))
            sightings.extend((job_id, first_issue + (n + s) % 1000) for s in range(args.sightings))
        conn.executemany("INSERT INTO scans (id, project_id, scan_type, scm_revision, create_time)"
                         " VALUES (?, ?, ?, ?, ?)", scans)
        conn.executemany("INSERT INTO jobs (id, project_id, scan_id, state, create_time, end_time,"
                         " result_code) VALUES (?, ?, ?, 2, ?, ?, ?)", jobs)
        conn.executemany("INSERT INTO tasks (id, job_id, module, task_name, state, create_time)"
                         " VALUES (?, ?, 'codelint', ?, 2, ?)", tasks)
        conn.executemany("INSERT INTO task_progresses (task_id, progress_rate, message, create_time)"
                         " VALUES (?, ?, 'step', ?)", steps)
        conn.executemany("INSERT INTO job_languages (job_id, language, files, code, comment, blank)"
                         " VALUES (?, ?, 1, 100, 10, 5)", counts)
        conn.executemany("INSERT OR IGNORE INTO job_issues (job_id, issue_id, line, column_no)"
                         " VALUES (?, ?, 1, 1)", sightings)
        conn.commit()
    # One old job of the first project with a great many sightings of findings of its own.
    big_first = args.projects * 1000 + 1
    conn.executemany(
        "INSERT INTO issues (id, project_id, fingerprint, tool, rule, path, line, column_no, severity,"
        " category, message, state, resolution, created_time, modified_time)"
        " VALUES (?, 1, ?, 'codepup', 'rule', 'big.py', ?, 1, 3, 'style', 'm', 2, 1, ?, ?)",
        [(big_first + i, f"big-{i}", i, old, old) for i in range(args.big)])
    conn.executemany("INSERT INTO job_issues (job_id, issue_id, line, column_no) VALUES (1, ?, 1, 1)",
                     [(big_first + i,) for i in range(args.big)])
    conn.commit()
    conn.close()


class Writer(threading.Thread):
    """Commits a one-row transaction every 2 ms and records each one's time."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.times, self.stop = path, [], threading.Event()

    def run(self):
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS bench_writes (id INTEGER PRIMARY KEY, at REAL)")
        while not self.stop.is_set():
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO bench_writes (at) VALUES (?)", (started,))
            conn.execute("COMMIT")
            self.times.append(time.perf_counter() - started)
            time.sleep(0.002)
        conn.close()


def reference(path, cutoff_jobs):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("CREATE TEMP TABLE doomed AS SELECT id FROM jobs WHERE id IN (%s)" % cutoff_jobs)
    for sql in ("DELETE FROM job_issues WHERE job_id IN (SELECT id FROM temp.doomed)",
                "DELETE FROM task_progresses WHERE task_id IN (SELECT id FROM tasks WHERE job_id IN (SELECT id FROM temp.doomed))",
                "DELETE FROM tasks WHERE job_id IN (SELECT id FROM temp.doomed)",
                "DELETE FROM job_languages WHERE job_id IN (SELECT id FROM temp.doomed)",
                "DELETE FROM jobs WHERE id IN (SELECT id FROM temp.doomed)"):
        conn.execute(sql)
    conn.execute("COMMIT")
    took = time.perf_counter() - started
    conn.close()
    return took


# The large store (`store` mode): the list benchmark's jobs (`lists.seed_jobs`: closed over the
# year to 2026-11-30 UTC, in `projects` projects, the first with every k-th job), then, inside
# SQLite, what hangs off them: a scan row each (`scans.id` = the job's id; the last project's
# scans have no revision, as a project whose checkouts always fail, so it has no baseline), one
# task with one progress step, one line count; `findings` findings in the first project, 70 %
# open, opened by 100 of its jobs and fixed (the rest) by its 100 newest; each of its jobs saw 10
# of them (so each finding has two old sightings), and its newest job saw every open one but
# the 1 % whose last sighting stays an old job.
STORE_SQL = (
    "INSERT INTO scans (id, project_id, scan_type, scm_revision, create_time)"
    " SELECT id, project_id, 2, CASE WHEN project_id = ?3 THEN NULL ELSE printf('%040x', id) END,"
    " create_time FROM jobs WHERE id BETWEEN ?1 AND ?2",
    "UPDATE jobs SET scan_id = id WHERE id BETWEEN ?1 AND ?2",
    "INSERT INTO tasks (id, job_id, module, task_name, state, create_time)"
    " SELECT id, id, 'codelint', 'pylint', 2, create_time FROM jobs WHERE id BETWEEN ?1 AND ?2",
    "INSERT INTO task_progresses (task_id, progress_rate, message, create_time)"
    " SELECT id, 100, 'done', create_time FROM tasks WHERE id BETWEEN ?1 AND ?2",
    "INSERT INTO job_languages (job_id, language, files, code, comment, blank)"
    " SELECT id, 'Python', 1, 100, 10, 5 FROM jobs WHERE id BETWEEN ?1 AND ?2",
)
FINDINGS_SQL = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?2 - 1),
c(cnt) AS (SELECT COUNT(*) FROM temp.p1)
INSERT INTO issues (id, project_id, fingerprint, tool, rule, path, line, column_no, severity, category,
                    message, state, resolution, author, scan_open, scan_fix, created_time, modified_time)
SELECT i + 1, ?1, printf('fp%08d', i), 'pylint', printf('rule-%03d', i % 200),
       printf('src/dir%d/file%d.py', i % 100, i % 10000), 1 + i % 500, 1, 1 + i % 4, 'style', 'a message',
       CASE WHEN i % 10 < 7 THEN 1 ELSE 2 END, CASE WHEN i % 10 < 7 THEN 0 ELSE 1 END, 'author' || (i % 50),
       (SELECT id FROM temp.p1 WHERE k = (i % 100) * (cnt / 100)),
       CASE WHEN i % 10 < 7 THEN NULL ELSE (SELECT id FROM temp.p1 WHERE k = cnt - 1 - i % 100) END,
       '2025-12-01T00:00:00.000000Z', '2025-12-01T00:00:00.000000Z'
FROM n, c
"""
SIGHTINGS_SQL = (
    "WITH RECURSIVE s(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM s WHERE s < 9)"
    " INSERT OR IGNORE INTO job_issues (job_id, issue_id, line, column_no)"
    " SELECT p.id, 1 + (p.k * 10 + s.s) % ?1, 1, 1 FROM temp.p1 p, s WHERE p.k BETWEEN ?2 AND ?3",
    "INSERT OR IGNORE INTO job_issues (job_id, issue_id, line, column_no)"
    " SELECT (SELECT MAX(id) FROM temp.p1), id, 1, 1 FROM issues WHERE state = 1 AND (id - 1) % 100 != 0",
)


def seed_store(db_path, args):
    """Writes the large store (see STORE_SQL); the jobs only if none are there yet."""
    began = time.perf_counter()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    if conn.execute("SELECT COUNT(*) FROM projects").fetchone()[0] == 0:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO projects (id, repo_id, branch, scan_scheme_id, project_key, created_time)"
            " VALUES (?, 1, 'main', 1, ?, '2025-12-01T00:00:00.000000Z')",
            [(p, f"bench-{p}") for p in range(1, args.projects + 1)])
        conn.execute("COMMIT")
        conn.close()
        lists.seed_jobs(db_path, 1, list(range(2, args.projects + 1)), args.store_jobs // args.projects,
                        args.store_jobs)
        print(f"jobs: {time.perf_counter() - began:.0f} s", flush=True)
    else:
        conn.close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -2000000")
    last = conn.execute("SELECT MAX(id) FROM jobs").fetchone()[0]
    for low in range(1, last + 1, 250_000):
        conn.execute("BEGIN")
        for sql in STORE_SQL:
            conn.execute(sql, (low, low + 249_999, args.projects)[:3 if "?3" in sql else 2])
        conn.execute("COMMIT")
        print(f"  rows of {min(last, low + 249_999):,} jobs ({time.perf_counter() - began:.0f} s)", flush=True)
    conn.execute("CREATE TEMP TABLE p1 (k INTEGER PRIMARY KEY, id INTEGER NOT NULL)")
    conn.execute("INSERT INTO temp.p1 (k, id) SELECT ROW_NUMBER() OVER (ORDER BY id) - 1, id FROM jobs"
                 " WHERE project_id = 1")
    conn.execute("BEGIN")
    conn.execute(FINDINGS_SQL, (1, args.findings))
    conn.execute("COMMIT")
    print(f"findings: {time.perf_counter() - began:.0f} s", flush=True)
    jobs = conn.execute("SELECT COUNT(*) FROM temp.p1").fetchone()[0]
    for low in range(0, jobs, 50_000):
        conn.execute("BEGIN")
        conn.execute(SIGHTINGS_SQL[0], (args.findings, low, low + 49_999))
        conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.execute(SIGHTINGS_SQL[1])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    print(f"seeded in {time.perf_counter() - began:.0f} s; {os.path.getsize(db_path) / 2**20:,.0f} MiB", flush=True)


def timed_lines(stream, sink, began):
    """Appends (seconds since `began`, line) for each line of `stream` to `sink`."""
    for line in stream:
        sink.append((time.perf_counter() - began, line.rstrip()))


def count_jobs(db):
    """Jobs in the file, read on a connection closed at once: an unclosed one (the sqlite3
    module's statement cache keeps it alive until a garbage collection) would write its stale
    view of the WAL into the next step's fresh copy."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    finally:
        conn.close()


def store_dry_run(binary, data, args):
    began = time.perf_counter()
    proc = subprocess.Popen([binary, "prune", "--dry-run", "--retain-days", str(args.retain_days),
                             "--data-dir", data], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "RUST_LOG": "info"})
    try:
        out, err = proc.communicate(timeout=args.pass_timeout)
        finished = True
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        finished = False
    took = time.perf_counter() - began
    print(err.strip())
    print(out.strip())
    print(f"| dry run (`codepup prune --dry-run --retain-days {args.retain_days}`) |"
          f" {'' if finished else 'no answer after '}{took:.1f} s |")


def store_server(binary, data, args):
    """The server's first pass (a minute after start), SIGTERM `--term-after` seconds into it."""
    env = {**os.environ, "RUST_LOG": "info,codepup::access=warn", "CODEPUP_RETAIN_DAYS": str(args.retain_days),
           "CODEPUP_ADMIN_TOKEN": "bench-admin-token-0123456789abcdef"}
    jobs_before = count_jobs(os.path.join(data, "codepup.db"))
    began = time.perf_counter()
    proc = subprocess.Popen([binary, "serve", "--bind", "127.0.0.1:0", "--data-dir", data, "--workers", "1"],
                            env=env, stderr=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=timed_lines, args=(proc.stderr, lines, began), daemon=True)
    reader.start()
    # The first pass starts a minute after the server is up; the newer binary logs its start.
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline and not any("retention pass started" in line for _, line in lines):
        time.sleep(0.2)
    started = next((at for at, line in lines if "retention pass started" in line), None)
    if started is None:
        started = next(at for at, line in lines if "listening on" in line) + 60
    time.sleep(max(0.0, started + args.term_after - (time.perf_counter() - began)))
    term = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    exited = time.perf_counter() - term
    reader.join(5)
    for at, line in lines:
        if "retention" in line or "housekeeping" in line or "stopp" in line:
            print(f"{at:8.1f} s  {line[:300]}")
    jobs_after = count_jobs(os.path.join(data, "codepup.db"))
    print(f"| server's pass, SIGTERM {args.term_after} s after it started | exit {exited:.1f} s after SIGTERM;"
          f" {jobs_before - jobs_after:,} jobs deleted by then | load {os.getloadavg()[0]:.1f} |")


def store_pass(binary, data, args):
    db = os.path.join(data, "codepup.db")
    jobs_before = count_jobs(db)
    writer = Writer(db)
    writer.start()
    time.sleep(0.5)
    began = time.perf_counter()
    proc = subprocess.Popen([binary, "prune", "--retain-days", str(args.retain_days), "--data-dir", data],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "RUST_LOG": "info"})
    try:
        out, err = proc.communicate(timeout=args.pass_timeout)
        finished = True
    except subprocess.TimeoutExpired:
        # SIGTERM: a shell running the script in the background ignores SIGINT for its children.
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate()
        finished = False
    took = time.perf_counter() - began
    time.sleep(0.5)
    writer.stop.set()
    writer.join()
    waits = sorted(writer.times)
    jobs_after = count_jobs(db)
    print(err.strip()[-6000:])
    print(out.strip())
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    longest = re.search(r"longest write (\d+) ms", summary)
    slow = [int(ms) for ms in re.findall(r"held the write lock (\d+) ms", err)]
    print(f"write transactions over 50 ms: {len(slow)}, longest {max(slow, default=0)} ms")
    print(f"| `codepup prune --retain-days {args.retain_days}` | {'' if finished else 'stopped after '}{took:.0f} s,"
          f" {jobs_before - jobs_after:,} jobs deleted, longest write transaction"
          f" {longest.group(1) + ' ms' if longest else '?'} |")
    print(f"| a concurrent one-row writer ({len(waits):,} commits) | p50 {statistics.median(waits) * 1000:.1f} ms,"
          f" p99 {waits[int(len(waits) * 0.99)] * 1000:.1f} ms, max {waits[-1] * 1000:.1f} ms"
          f" | load {os.getloadavg()[0]:.1f} |")


def store_main(args):
    """The large store: seeded once into `--work` (and kept there as `pristine.db`), each step
    run on a fresh copy of it."""
    data = os.path.join(args.work, "data")
    db = os.path.join(data, "codepup.db")
    pristine = os.path.join(args.work, "pristine.db")
    if not os.path.exists(pristine):
        if not os.path.exists(db):
            os.makedirs(data, exist_ok=True)
            subprocess.run([args.binary, "prune", "--dry-run", "--data-dir", data], check=True, capture_output=True)
        seed_store(db, args)
        shutil.copy(db, pristine)
    for step in args.steps:
        for suffix in ("-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        if step != "dry":
            shutil.copy(pristine, db)
        print(f"## {step} ({args.binary}), load {os.getloadavg()[0]:.1f}", flush=True)
        {"dry": store_dry_run, "server": store_server, "pass": store_pass}[step](args.binary, data, args)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--sightings", type=int, default=20)
    parser.add_argument("--big", type=int, default=100000)
    parser.add_argument("--binary", default=BINARY, help="the codepup to measure (release)")
    parser.add_argument("--store-jobs", type=int, help="the large store: this many jobs (store mode)")
    parser.add_argument("--findings", type=int, default=1_000_000, help="store mode: findings of its first project")
    parser.add_argument("--work", help="store mode: where the store is seeded and kept")
    parser.add_argument("--retain-days", type=int, default=30, help="store mode: the passes' --retain-days")
    parser.add_argument("--steps", nargs="*", default=["dry", "server", "pass"], help="store mode: dry server pass")
    parser.add_argument("--term-after", type=float, default=20, help="store mode: SIGTERM this long into the pass")
    parser.add_argument("--pass-timeout", type=float, default=1800, help="store mode: stop the pass after this long")
    args = parser.parse_args()
    if args.store_jobs:
        return store_main(args)
    binary = args.binary
    work = tempfile.mkdtemp(prefix="retention-bench-")
    data = os.path.join(work, "data")
    db = os.path.join(data, "codepup.db")
    subprocess.run([binary, "prune", "--dry-run", "--data-dir", data], check=True, capture_output=True)
    began = time.perf_counter()
    seed(db, args)
    print(f"seeded {args.projects * args.jobs:,} jobs in {time.perf_counter() - began:.0f} s;"
          f" {os.path.getsize(db) / 2**20:.0f} MiB; load {os.getloadavg()[0]:.1f}", flush=True)
    copy = os.path.join(work, "reference.db")
    shutil.copy(db, copy)
    dry = subprocess.run([binary, "prune", "--retain-jobs", "50", "--dry-run", "--data-dir", data],
                         check=True, capture_output=True, text=True).stdout
    writer = Writer(db)
    writer.start()
    time.sleep(0.5)
    began = time.perf_counter()
    real = subprocess.run([binary, "prune", "--retain-jobs", "50", "--data-dir", data],
                          check=True, capture_output=True, text=True).stdout
    took = time.perf_counter() - began
    time.sleep(0.5)
    writer.stop.set()
    writer.join()
    summary = real.strip().splitlines()[-1]
    jobs = int(re.search(r"^jobs (\d+)$", real, re.M).group(1))
    longest = int(re.search(r"longest write (\d+) ms", summary).group(1))
    waits = sorted(writer.times)
    print(summary)
    print(f"dry run equal to the pass: {dry.splitlines()[:-1] == real.splitlines()[:-1]}")
    kept = sqlite3.connect(db).execute("SELECT group_concat(id) FROM jobs").fetchone()[0] or "0"
    conn = sqlite3.connect(copy)
    doomed = ",".join(str(row[0]) for row in conn.execute(
        "SELECT id FROM jobs WHERE id NOT IN (%s)" % kept))
    conn.close()
    naive = reference(copy, doomed)
    print()
    print("| what | result | reference (same run) | target | met? |")
    print("|---|---|---|---|---|")
    print(f"| retention pass over {args.projects * args.jobs:,} jobs ({jobs:,} deleted) | {took:.1f} s,"
          f" longest write transaction {longest} ms | one transaction deleting the same jobs:"
          f" {naive * 1000:,.0f} ms | ≤ 50 ms | {'yes' if longest <= 50 else '**no**'} |")
    print(f"| a concurrent one-row writer during the pass ({len(waits):,} commits) |"
          f" p50 {statistics.median(waits) * 1000:.1f} ms, p99 {waits[int(len(waits) * 0.99)] * 1000:.1f} ms,"
          f" max {waits[-1] * 1000:.1f} ms | | ≤ 50 ms | {'yes' if waits[-1] <= 0.05 else '**no**'} |")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
