#!/usr/bin/env python3
"""The job lists' counts at the SQL level (issue 9, schema 16), on a fixture of `bench.py --only
joblist --seed-only` that a schema-16 codepup has opened once (its migration made `job_sums` and
`jobs_project_create_cover`):

    python3 tests/bench/joblist_sql.py DATA_DIR/codepup.db [--runs 10]

For each row of `lists.JOB_QUERIES` that schema 16 changed, it runs the count the schema-15 code
ran (`job_tallies` per project, the partial days read from the table through the (project,
create_time) index, which it makes if the file lacks it) and the count the schema-16 code runs
(`job_sums` per project or for the whole store as project 0, the partial days from their shorter
side in the covering index), on the same file in the same run, and checks that both give the
same number. The queries are the ones `src/db/jobs/tally.rs` builds for these filters, written
out; the unfinished jobs (none in the fixture) are left out of both. Times are p50 in ms.
"""

import argparse
import sqlite3
import sys
import time

# The bench's ranges, as the server reads them (+08:00 without a zone in the query).
RANGE = ("2026-03-05T02:00:00.000000Z", "2026-03-30T14:00:00.000000Z")
LONG = ("2026-03-05T02:00:00.000000Z", "2026-06-30T14:00:00.000000Z")
END = "T23:59:59.999999Z"

# (sign, from, to) of period keys, and (sign, from, to) of partial days, as `periods::split`
# cuts the two ranges in schema 15 (old) and 16 (new).
SPLITS = {
    "range-old": ([(1, "M2026-03", "M2026-03"), (-1, "D2026-03-01", "D2026-03-05"), (-1, "D2026-03-30", "D2026-03-31")],
                  [(1, RANGE[0], "2026-03-05" + END), (1, "2026-03-30T00:00:00.000000Z", RANGE[1])]),
    "range-new": ([(1, "D2026-03-05", "D2026-03-05"), (1, "D2026-03-30", "D2026-03-30"), (1, "M2026-03", "M2026-03"),
                   (-1, "D2026-03-01", "D2026-03-05"), (-1, "D2026-03-30", "D2026-03-31")],
                  [(-1, "2026-03-05T00:00:00.000000Z", "2026-03-05T01:59:59.999999Z"),
                   (-1, "2026-03-30T14:00:00.000001Z", "2026-03-30" + END)]),
    "long-old": ([(1, "M2026-04", "M2026-05"), (1, "M2026-03", "M2026-03"), (-1, "D2026-03-01", "D2026-03-05"),
                  (1, "M2026-06", "M2026-06"), (-1, "D2026-06-30", "D2026-06-30")],
                 [(1, LONG[0], "2026-03-05" + END), (1, "2026-06-30T00:00:00.000000Z", LONG[1])]),
    "long-new": ([(1, "D2026-03-05", "D2026-03-05"), (1, "D2026-06-30", "D2026-06-30"), (1, "M2026-04", "M2026-05"),
                  (1, "M2026-03", "M2026-03"), (-1, "D2026-03-01", "D2026-03-05"), (1, "M2026-06", "M2026-06"),
                  (-1, "D2026-06-30", "D2026-06-30")],
                 [(-1, "2026-03-05T00:00:00.000000Z", "2026-03-05T01:59:59.999999Z"),
                  (-1, "2026-06-30T14:00:00.000001Z", "2026-06-30" + END)]),
    "all": ([(1, "A", "A")], []),
}

# name: (the filter on tally rows, the split's name without -old/-new)
FILTERS = {
    "no filter": ("", "all"),
    "`state=2`": ("AND state IN (2)", "all"),
    "`result_code_gte=200`": ("AND code_set = 1 AND result_code >= 200", "all"),
    "`result_code_lte=1`": ("AND code_set = 1 AND result_code <= 1", "all"),
    "`create_time` range (7%)": ("", "range"),
    "`creator` substring": ("AND creator LIKE '%user4%' ESCAPE '\\'", "all"),
    "`created_from` substring": ("AND created_from LIKE '%tca%' ESCAPE '\\'", "all"),
    "every filter at once": (
        ("AND code_set = 1 AND result_code >= 100 AND code_set = 1 AND result_code <= 300"
         " AND result_msg LIKE '%exit%' ESCAPE '\\' AND created_from LIKE '%api%' ESCAPE '\\'"
         " AND creator LIKE '%user4%' ESCAPE '\\' AND state IN (1, 2)"), "long"),
}


def jobs_filter(tally_filter):
    """The tally filter on the jobs themselves (no `code_set` there)."""
    return tally_filter.replace("code_set = 1 AND ", "")


def count(db, table, scope, tally_filter, split, index):
    periods, edges = SPLITS[split]
    total = 0
    for sign, low, high in periods:
        total += sign * db.execute(f"SELECT IFNULL(SUM(n), 0) FROM {table} WHERE {scope} {tally_filter}"
                                   " AND period BETWEEN ? AND ?", (low, high)).fetchone()[0]
    edge_scope = scope.replace("project_id = 0", "project_id IN (SELECT id FROM projects)")
    for sign, low, high in edges:
        total += sign * db.execute(f"SELECT COUNT(*) FROM jobs INDEXED BY {index} WHERE {edge_scope}"
                                   f" {jobs_filter(tally_filter)} AND state = 2 AND create_time BETWEEN ? AND ?",
                                   (low, high)).fetchone()[0]
    return total


def p50(db, runs, *query):
    times, answer = [], None
    for _ in range(runs):
        start = time.perf_counter()
        answer = count(db, *query)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2], answer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    db = sqlite3.connect(args.db)
    db.execute("PRAGMA cache_size = -65536")
    db.execute("PRAGMA mmap_size = 6000000000")
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'job_sums'").fetchone():
        sys.exit("no job_sums: open the file with a schema-16 codepup first")
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'jobs_project_create_time'").fetchone():
        started = time.perf_counter()
        db.execute("CREATE INDEX jobs_project_create_time ON jobs (project_id, create_time)")
        print(f"reference index made in {time.perf_counter() - started:.0f} s", flush=True)
    project = db.execute("SELECT project_id FROM jobs GROUP BY project_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
    store_jobs = db.execute("SELECT SUM(n) FROM job_sums WHERE project_id = 0 AND period = 'A'").fetchone()[0]
    print(f"| count of (SQL only, p50 of {args.runs}) | schema 16 | schema 15 (same run) | same count |")
    print("|---|---|---|---|")
    for label, old_scope, new_scope in (
            ("project", f"project_id = {project}", f"project_id = {project}"),
            (f"every project ({store_jobs:,} jobs)", "project_id IN (SELECT id FROM projects)", "project_id = 0")):
        for name, (tally_filter, split) in FILTERS.items():
            old_split = split if split == "all" else f"{split}-old"
            new_split = split if split == "all" else f"{split}-new"
            message = "result_msg" in tally_filter
            new_table = "job_tallies" if message else "job_sums"
            new_scope_here = old_scope if message else new_scope
            old_ms, old_n = p50(db, args.runs, "job_tallies", old_scope, tally_filter, old_split,
                                "jobs_project_create_time")
            new_ms, new_n = p50(db, args.runs, new_table, new_scope_here, tally_filter, new_split,
                                "jobs_project_create_cover")
            print(f"| {label}, {name} ({new_n:,}) | {new_ms:.2f} ms | {old_ms:.2f} ms | "
                  f"{'yes' if new_n == old_n else f'**no**: {old_n:,}'} |", flush=True)


if __name__ == "__main__":
    main()
