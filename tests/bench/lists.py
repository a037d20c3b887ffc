"""The list rows of bench.py (issue 9): the job lists and the findings list on a store of millions
of rows, written straight into the database (the one fixture below), then read over HTTP.

The fixture, with the server stopped (so nothing but SQLite's own triggers runs while it is
written), seeded deterministically. The jobs are made inside SQLite (`JOBS_SQL`: the rows of
`job_row`, one INSERT ... SELECT and one transaction per 250,000 jobs, triggers on, a 4 GB page
cache), the findings by `executemany` in one transaction; each prints how long it took:

- `store_jobs` jobs (default: `jobs`) over one year (2025-12-01 to 2026-11-30 UTC, evenly in id
  order, as a server writes them), in `projects` projects made through the API. The measured
  project gets every k-th job, `jobs` in all; the others share the rest, interleaved, so the
  cross-project lists walk a store where the measured project's jobs are one in k.
- Every job is closed (a WAITING row would be taken by the server's workers): result codes 0, 1,
  110, 211, 301 in turn (40% at 200 or above), `result_msg` as codepup writes them for those
  codes (a few texts per code; a cancel names its user), one job in 200 "superseded by job N"
  with code 2 (a text of its own, as codepup's are); `creator` user0..user49, `created_from`
  api (2 in 3) or tca_web; `end_time` a minute after `create_time`.
- `findings` findings in the measured project: 200 rules of 3 tools, 10,000 files, 50 authors,
  severities 1-4, 70% open (state 1), the rest fixed (state 2, resolution 1), opened by 100
  scans; the last job saw the open ones (`job_issues`).
"""

import json
import random
import sqlite3
import time

START_DAY = 20423  # 2025-12-01 as days since 1970-01-01
SPAN_MICROS = 365 * 86400 * 1_000_000
CODES = (0, 1, 110, 211, 301)
GIT_ERRORS = ("fatal: unable to access: Could not resolve host", "fatal: Authentication failed",
              "fatal: repository not found", "fatal: remote error: access denied")


def stored(micros):
    """The server's stored time form for microseconds since 2025-12-01T00:00:00Z."""
    seconds, micro = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(START_DAY * 86400 + seconds)) + f".{micro:06d}Z"


def job_row(g, store_jobs, project_id, first_id, every=1):
    micros = g * SPAN_MICROS // store_jobs
    # The k-th job of the measured project (every `every`-th of the store) is made as the k-th
    # job of a store of its own, so its codes and messages cycle whatever the stride (n = g
    # gave it result code 0 only at a stride of 10); the other projects share the rest by g.
    n = g // every if g % every == 0 else g
    code = CODES[n % 5]
    creator = f"user{(n // 7) % 50}"
    if n % 200 == 199:
        code, msg = 2, f"superseded by job {first_id + g + 3}"
    elif code == 0:
        msg = "success"
    elif code == 1:
        msg = "nothing to scan: the head is the baseline"
    elif code == 110:
        msg = GIT_ERRORS[(n // 5) % 4]
    elif code == 211:
        msg = f"pylint exited with status {1 + (n // 5) % 8}"
    else:
        msg = f"User( {creator} ) Canceled:  . "
    origin = "api" if n % 3 else "tca_web"
    return (project_id, 2, stored(micros), stored(micros + 60_000_000), code, msg, origin, creator)


# `job_row` in SQL, for `seed_jobs`: the same rows, made inside SQLite (a Python loop and an
# `executemany` per row wrote 2,300 jobs a second on the loaded machine). ?1/?2 the first and last
# g of a chunk, ?3 store_jobs, ?4 the measured project, ?5 its stride, ?6 its job count, ?7 the
# first job id (n * span / store_jobs is written so that no product passes 64 bits); `others` (the other projects, in order) is a temporary table (i, id).
JOBS_SQL = """
WITH RECURSIVE g(n) AS (SELECT ?1 UNION ALL SELECT n + 1 FROM g WHERE n < ?2),
base AS (SELECT n AS g, CASE WHEN n % ?5 = 0 THEN n / ?5 ELSE n END AS n FROM g),
rows AS (
  SELECT g, n, g * ({span} / ?3) + g * ({span} % ?3) / ?3 AS micros,
         CASE n % 5 WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 2 THEN 110 WHEN 3 THEN 211 ELSE 301 END AS code,
         'user' || ((n / 7) % 50) AS creator
  FROM base)
INSERT INTO jobs (project_id, state, create_time, end_time, result_code, result_msg, created_from, creator)
SELECT CASE WHEN g % ?5 = 0 AND g / ?5 < ?6 THEN ?4
            ELSE IFNULL((SELECT id FROM temp.others WHERE i = g % (SELECT COUNT(*) FROM temp.others)), ?4) END,
       2, {time_of_micros}, {time_of_end},
       CASE WHEN n % 200 = 199 THEN 2 ELSE code END,
       CASE WHEN n % 200 = 199 THEN 'superseded by job ' || (?7 + g + 3)
            WHEN code = 0 THEN 'success'
            WHEN code = 1 THEN 'nothing to scan: the head is the baseline'
            WHEN code = 110 THEN CASE (n / 5) % 4 WHEN 0 THEN '{e0}' WHEN 1 THEN '{e1}'
                                                  WHEN 2 THEN '{e2}' ELSE '{e3}' END
            WHEN code = 211 THEN 'pylint exited with status ' || (1 + (n / 5) % 8)
            ELSE 'User( ' || creator || ' ) Canceled:  . ' END,
       CASE WHEN n % 3 THEN 'api' ELSE 'tca_web' END, creator
FROM rows ORDER BY g
"""


def sql_time(micros):
    return (f"strftime('%Y-%m-%dT%H:%M:%S', {START_DAY} * 86400 + ({micros}) / 1000000, 'unixepoch')"
            f" || printf('.%06dZ', ({micros}) % 1000000)")


def seed_jobs(db_path, main_project, other_projects, jobs, store_jobs, chunk=250_000):
    """Writes the jobs, one transaction per chunk, triggers on (the tallies are kept as the server
    keeps them); returns the measured project's newest job id."""
    every = max(1, store_jobs // jobs)
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    # A page cache that holds the indexes being written (the default 2 MB made every index
    # insert a read from disk).
    db.execute("PRAGMA cache_size = -4000000")
    db.execute("CREATE TEMP TABLE others (i INTEGER PRIMARY KEY, id INTEGER NOT NULL)")
    db.executemany("INSERT INTO temp.others (i, id) VALUES (?, ?)", enumerate(other_projects))
    first_id = (db.execute("SELECT MAX(id) FROM jobs").fetchone()[0] or 0) + 1
    sql = JOBS_SQL.format(span=SPAN_MICROS, time_of_micros=sql_time("micros"),
                          time_of_end=sql_time("micros + 60000000"),
                          **{f"e{i}": text for i, text in enumerate(GIT_ERRORS)})
    statement_started = time.perf_counter()
    for low in range(0, store_jobs, chunk):
        high = min(store_jobs, low + chunk) - 1
        db.execute("BEGIN")
        db.execute(sql, (low, high, store_jobs, main_project, every, jobs, first_id))
        db.execute("COMMIT")
        rate = (high + 1) / (time.perf_counter() - statement_started)
        print(f"  {high + 1:,} jobs written ({rate:,.0f} a second)", flush=True)
    last = db.execute("SELECT MAX(id) FROM jobs WHERE project_id = ?", (main_project,)).fetchone()[0]
    db.close()
    return last


def seed_findings(db_path, project_id, job_id, findings):
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -4000000")
    scan_ids = []
    for s in range(100):
        db.execute("INSERT INTO scans (project_id, scan_type, create_time) VALUES (?, 2, ?)",
                   (project_id, stored(s * 3600 * 1_000_000)))
        scan_ids.append(db.execute("SELECT last_insert_rowid()").fetchone()[0])
    rng = random.Random(9)
    tools = ("codepup", "pylint", "ruff")
    rows, sightings = [], []
    first = (db.execute("SELECT MAX(id) FROM issues").fetchone()[0] or 0) + 1
    for n in range(findings):
        rule = rng.randrange(200)
        open_ = n % 10 < 7
        rows.append((project_id, f"fp{n:08d}", tools[rule % 3], f"rule-{rule:03d}", f"src/dir{n % 100}/file{n % 10000}.py",
                     1 + n % 500, 1, 1 + rule % 4, "style", f"message of rule {rule}", 1 if open_ else 2,
                     0 if open_ else 1, f"author{rng.randrange(50)}", scan_ids[n * 100 // findings],
                     None if open_ else scan_ids[-1], stored(n), stored(n)))
        if open_:
            sightings.append((job_id, first + n, 1 + n % 500, 1))
    db.executemany(
        "INSERT INTO issues (project_id, fingerprint, tool, rule, path, line, column_no, severity, category,"
        " message, state, resolution, author, scan_open, scan_fix, created_time, modified_time)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO job_issues (job_id, issue_id, line, column_no) VALUES (?, ?, ?, ?)", sightings)
    db.commit()
    db.close()
    return scan_ids


def read_fixture(db_path):
    """The measured project's path, id, newest job and scans, from a fixture written earlier."""
    db = sqlite3.connect(db_path)
    project_id, last_job = db.execute(
        "SELECT project_id, MAX(id) FROM jobs GROUP BY project_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()
    repo_id = db.execute("SELECT repo_id FROM projects WHERE id = ?", (project_id,)).fetchone()[0]
    scans = [row[0] for row in db.execute("SELECT id FROM scans WHERE project_id = ? ORDER BY id", (project_id,))]
    db.close()
    return f"orgs/bench/teams/t/repos/{repo_id}/projects/{project_id}", project_id, last_job, scans


# Each filter of TCA's job filter set alone, then all at once, then deep offsets. The time range
# is 7% of the year (25.5 days, from and to an hour inside a day, as a UI's date picker in
# +08:00 sends them).
JOB_QUERIES = {
    "no filter": "",
    "`state=0,1` (no match)": "state=0,1",
    "`state=2`": "state=2",
    "`result_code_gte=200`": "result_code_gte=200",
    "`result_code_lte=1`": "result_code_lte=1",
    "`create_time` range (7%)": "create_time_gte=2026-03-05T10:00:00&create_time_lte=2026-03-30T22:00:00",
    "`creator` substring": "creator=USER4",
    "`created_from` substring": "created_from=tca",
    "`result_msg` substring": "result_msg=pylint",
    "every filter at once": "state=1,2&result_code_gte=100&result_code_lte=300&created_from=api&creator=user4"
                            "&result_msg=exit&create_time_gte=2026-03-05T10:00:00&create_time_lte=2026-06-30T22:00:00",
    "`offset=50000`": "offset=50000",
    "`offset=500000`": "offset=500000",
    "`offset=500000`, `result_code_gte=200`": "offset=500000&result_code_gte=200",
}
ADMIN_EXTRA = {
    "`end_time` range (counted in the jobs)": "end_time_gte=2026-03-05T10:00:00&end_time_lte=2026-03-30T22:00:00",
}
ISSUE_QUERIES = {
    "no filter": "",
    "`state=1`": "state=1",
    "`severity=1,2`": "severity=1,2",
    "`resolution=1`": "resolution=1",
    "`author` substring": "author=AUTHOR4",
    "`file_path` substring": "file_path=dir4",
    "`checkrule_display_name` substring": "checkrule_display_name=rule-01",
    "`scan_open`": "scan_open={scan}",
    "`scan_fix`": "scan_fix={last_scan}",
    "`job_id`": "job_id={job}",
    "every filter at once": "state=1&severity=1,2&author=author4&file_path=dir4&checkrule_display_name=rule-0",
    "`offset=500000`": "offset=500000",
}


def measure(server, table, label, path, queries, runs, target):
    """p50 and p95 of `runs` calls of each query (`path` from the server's root); `target(name)` gives the row's target in ms."""
    for name, query in queries.items():
        times = []
        data = None
        for _ in range(runs):
            start = time.perf_counter()
            status, content = server.request("GET", f"{path}?{query}")
            data = json.loads(content)["data"]
            if status != 200:
                raise RuntimeError(f"{path}?{query}: {status} {content[:300]}")
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p50 = times[len(times) // 2]
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        limit = target(name)
        table.add(f"{label}, {name} ({data['count']:,} match)", f"p50 {p50:.1f} ms, p95 {p95:.1f} ms", "",
                  f"p50 ≤ {limit} ms" if limit else "", p50 <= limit if limit else None)


def job_target(name):
    if "offset=500000" in name:
        return 50
    if "offset" in name or "end_time" in name:
        return None
    return 15 if "at once" in name else 5


def downgrade(db_path):
    """Turns a fixture into what the binary before issue 9 reads (schema 3): the tallies, their
    triggers and the new indexes go, so the older binary can be measured on the same rows."""
    db = sqlite3.connect(db_path)
    for kind, name in db.execute("SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'table', 'index')"
                                 " AND (name LIKE '%tall%' OR name IN ('job_days', 'issues_project_id',"
                                 " 'issues_project_scan_open', 'issues_project_scan_fix'))").fetchall():
        db.execute(f"DROP {kind} IF EXISTS {name}")
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 3 or sys.argv[1] != "--downgrade":
        sys.exit("usage: lists.py --downgrade DATA_DIR/codepup.db")
    downgrade(sys.argv[2])
