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
"""

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--sightings", type=int, default=20)
    parser.add_argument("--big", type=int, default=100000)
    parser.add_argument("--binary", default=BINARY, help="the codepup to measure (release)")
    args = parser.parse_args()
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
