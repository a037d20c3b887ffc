//! The job lists count through tallies the database keeps with triggers (issue 9). Their counts
//! and pages must equal a naive count of the jobs for every combination of filters, also after
//! jobs are deleted and changed by plain SQL (as retention does) and after a database from before
//! the tallies is opened.

use rusqlite::Connection;
use serde_json::{json, Value};

use crate::helpers::{TestApp, World, ADMIN_TOKEN};
use crate::jobs_api::scan_sync;

/// A job as the naive count sees it.
struct Job {
    id: i64,
    project_id: i64,
    state: i64,
    code: Option<i64>,
    creator: Option<String>,
    origin: Option<String>,
    msg: Option<String>,
    create_time: String,
    end_time: Option<String>,
}

/// Whether the naive count keeps a job.
type Rule = Box<dyn Fn(&Job) -> bool>;

/// A list filter: the query string and the naive rule.
struct Filter {
    query: String,
    keeps: Rule,
}

const CREATORS: [Option<&str>; 5] = [
    Some("alice"),
    Some("Bob"),
    Some("carol_x"),
    Some("%odd"),
    None,
];
const ORIGINS: [Option<&str>; 4] = [Some("api"), Some("tca_web"), Some("webhook"), None];
const MESSAGES: [Option<&str>; 5] = [
    Some("success"),
    Some("pylint exited with status 1"),
    Some("User( bob ) Canceled: ."),
    Some("50%_done"),
    None,
];
const CODES: [Option<i64>; 7] = [
    Some(0),
    Some(1),
    Some(2),
    Some(110),
    Some(211),
    Some(301),
    None,
];

/// A small deterministic generator (the test must fail the same way every time).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

/// A time in the first four months of 2026, sometimes exactly at a day's start or end.
fn a_time(rng: &mut Lcg) -> String {
    let (month, day) = (1 + rng.next(4), 1 + rng.next(28));
    let clock = match rng.next(6) {
        0 => "00:00:00.000000".to_string(),
        1 => "23:59:59.999999".to_string(),
        _ => format!(
            "{:02}:{:02}:00.{:06}",
            rng.next(24),
            rng.next(60),
            rng.next(1_000_000)
        ),
    };
    format!("2026-{month:02}-{day:02}T{clock}Z")
}

fn seed(conn: &Connection, projects: &[i64], rng: &mut Lcg, n: usize) {
    let mut insert = conn
        .prepare(
            "INSERT INTO jobs (project_id, state, result_code, creator, created_from, result_msg,
                 create_time, end_time) VALUES (?1, 2, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .unwrap();
    for _ in 0..n {
        let create_time = a_time(rng);
        let end_time = (rng.next(4) > 0).then(|| a_time(rng));
        insert
            .execute(rusqlite::params![
                projects[rng.next(projects.len())],
                CODES[rng.next(CODES.len())],
                CREATORS[rng.next(CREATORS.len())],
                ORIGINS[rng.next(ORIGINS.len())],
                MESSAGES[rng.next(MESSAGES.len())],
                create_time,
                end_time,
            ])
            .unwrap();
    }
}

fn all_jobs(conn: &Connection) -> Vec<Job> {
    let mut stmt = conn
        .prepare(
            "SELECT id, project_id, state, result_code, creator, created_from, result_msg,
                    create_time, end_time FROM jobs",
        )
        .unwrap();
    stmt.query_map([], |row| {
        Ok(Job {
            id: row.get(0)?,
            project_id: row.get(1)?,
            state: row.get(2)?,
            code: row.get(3)?,
            creator: row.get(4)?,
            origin: row.get(5)?,
            msg: row.get(6)?,
            create_time: row.get(7)?,
            end_time: row.get(8)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn contains(value: &Option<String>, needle: &str) -> bool {
    value.as_deref().is_some_and(|value| {
        value
            .to_ascii_lowercase()
            .contains(&needle.to_ascii_lowercase())
    })
}

/// One option of each filter, or none; `pick` chooses which.
fn filter(pick: &mut impl FnMut(usize) -> usize, admin: bool) -> Filter {
    let mut parts: Vec<(String, Rule)> = Vec::new();
    match pick(5) {
        0 => parts.push(("state=2".into(), Box::new(|job: &Job| job.state == 2))),
        1 => parts.push(("state=0,1".into(), Box::new(|job: &Job| job.state < 2))),
        // Open and closed states at once: the unfinished jobs are counted apart from the tallies.
        2 => parts.push((
            "state=1,2".into(),
            Box::new(|job: &Job| job.state == 1 || job.state == 2),
        )),
        _ => {}
    }
    let low = [0.0, 1.0, 100.0, 200.5][pick(4)];
    if pick(2) == 0 {
        parts.push((
            format!("result_code_gte={low}"),
            Box::new(move |job: &Job| job.code.is_some_and(|code| code as f64 >= low)),
        ));
    }
    let high = [0.0, 2.0, 211.0, 1000.0][pick(4)];
    if pick(2) == 0 {
        parts.push((
            format!("result_code_lte={high}"),
            Box::new(move |job: &Job| job.code.is_some_and(|code| code as f64 <= high)),
        ));
    }
    for (key, options) in [
        ("creator", ["ALI", "o", "%", "_x"]),
        ("created_from", ["api", "TCA", "web", "_"]),
        ("result_msg", ["SUCCESS", "exit", "50%", "%_"]),
    ] {
        if pick(3) == 0 {
            let needle = options[pick(options.len())].to_string();
            let query = format!("{key}={}", needle.replace('%', "%25"));
            parts.push((
                query,
                Box::new(move |job: &Job| match key {
                    "creator" => contains(&job.creator, &needle),
                    "created_from" => contains(&job.origin, &needle),
                    _ => contains(&job.msg, &needle),
                }),
            ));
        }
    }
    time_filters(pick, admin, &mut parts);
    let query = parts
        .iter()
        .map(|(q, _)| q.as_str())
        .collect::<Vec<_>>()
        .join("&");
    let rules: Vec<Rule> = parts.into_iter().map(|(_, rule)| rule).collect();
    Filter {
        query,
        keeps: Box::new(move |job: &Job| rules.iter().all(|rule| rule(job))),
    }
}

/// The time filters of a combination: `create_time` (or, on the admin list, `end_time`) from
/// and to, each maybe.
fn time_filters(
    pick: &mut impl FnMut(usize) -> usize,
    admin: bool,
    parts: &mut Vec<(String, Rule)>,
) {
    // Times: whole days, months, open ends, a moment inside a day, the day's last microsecond.
    let moments = [
        "2026-01-01T00:00:00.000000Z",
        "2026-02-01T00:00:00.000000Z",
        "2026-02-10T13:21:07.250000Z",
        "2026-02-10T23:59:59.999999Z",
        "2026-02-11T00:00:00.000000Z",
        "2026-03-31T23:59:59.999999Z",
        "2026-04-28T08:00:00.000000Z",
    ];
    let (key_gte, key_lte) = if admin && pick(3) == 0 {
        ("end_time_gte", "end_time_lte")
    } else {
        ("create_time_gte", "create_time_lte")
    };
    let end = key_gte.starts_with("end");
    let time_of = move |job: &Job| {
        if end {
            job.end_time.clone()
        } else {
            Some(job.create_time.clone())
        }
    };
    if pick(2) == 0 {
        let from = moments[pick(moments.len())];
        parts.push((
            format!("{key_gte}={}", from.replace('.', "%2E")),
            Box::new(move |job: &Job| time_of(job).is_some_and(|time| time.as_str() >= from)),
        ));
    }
    if pick(2) == 0 {
        let to = moments[pick(moments.len())];
        parts.push((
            format!("{key_lte}={to}"),
            Box::new(move |job: &Job| time_of(job).is_some_and(|time| time.as_str() <= to)),
        ));
    }
}

fn ids(page: &Value) -> Vec<i64> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["id"].as_i64().unwrap())
        .collect()
}

/// Every list (one project's, `v3/jobs/`, `v2/jobs/`) under many filter combinations: the count
/// and the first and last pages equal the naive answer.
/// A deleted project's jobs are in `v2/jobs/` (every job there is) but not in `v3/jobs/` (the
/// projects one may see), which then counts the store's tallies less the deleted project's.
fn check_lists(app: &TestApp, project_path: &str, project_id: i64, seed: u64) {
    let db = Connection::open(app.data_dir().join("codepup.db")).unwrap();
    let jobs = all_jobs(&db);
    let deleted: Vec<i64> = db
        .prepare("SELECT id FROM projects WHERE deleted_time IS NOT NULL")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut rng = Lcg(seed);
    let lists: [(String, Option<i64>, bool); 3] = [
        (format!("{project_path}/jobs/"), Some(project_id), false),
        ("/server/main/api/v3/jobs/".into(), None, false),
        ("/server/main/api/v2/jobs/".into(), None, true),
    ];
    for round in 0..60 {
        let (path, project, admin) = &lists[round % 3];
        let filter = filter(&mut |below| rng.next(below), *admin);
        let seen = |job: &Job| match project {
            Some(id) => job.project_id == *id,
            None => *admin || !deleted.contains(&job.project_id),
        };
        let mut expected: Vec<i64> = jobs
            .iter()
            .filter(|job| seen(job) && (filter.keeps)(job))
            .map(|job| job.id)
            .collect();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        let first = app
            .get(&format!("{path}?limit=7&{}", filter.query), ADMIN_TOKEN)
            .expect(200);
        let first = first.data();
        assert_eq!(first["count"], expected.len(), "{path}?{}", filter.query);
        assert_eq!(
            ids(first),
            expected.iter().take(7).copied().collect::<Vec<_>>(),
            "{path}?{}",
            filter.query
        );
        let offset = expected.len().saturating_sub(5);
        let last = app
            .get(
                &format!("{path}?limit=5&offset={offset}&{}", filter.query),
                ADMIN_TOKEN,
            )
            .expect(200);
        assert_eq!(
            ids(last.data()),
            expected[offset..].to_vec(),
            "{path}?{} at {offset}",
            filter.query
        );
    }
}

/// A world with a second project, each with one job through the API's own write path
/// (inserted, claimed, run and closed): the world, its project's path and the other's id.
fn two_scanned_projects(app: &TestApp) -> (World, String, i64) {
    let world = World::build(app);
    let path = world.project_path();
    let other = world.project_with_scheme(app, "main", json!({"name": "other"}));
    let other_id: i64 = other.rsplit('/').next().unwrap().parse().unwrap();
    scan_sync(app, ADMIN_TOKEN, &path, json!({"incr_scan": false}));
    scan_sync(app, ADMIN_TOKEN, &other, json!({"incr_scan": false}));
    (world, path, other_id)
}

#[test]
fn filtered_counts_and_pages_equal_a_naive_count_also_after_deletes_updates_and_a_migration() {
    let mut app = TestApp::spawn();
    let (world, path, other_id) = two_scanned_projects(&app);
    let db = Connection::open(app.data_dir().join("codepup.db")).unwrap();
    let mut rng = Lcg(7);
    // A third project, deleted: `v3/jobs/` no longer shows its jobs.
    let gone = world.project_with_scheme(&app, "main", json!({"name": "gone"}));
    let gone_id: i64 = gone.rsplit('/').next().unwrap().parse().unwrap();
    seed(&db, &[world.project_id, other_id, gone_id], &mut rng, 1500);
    db.execute(
        "UPDATE projects SET deleted_time = '2026-05-01T00:00:00.000000Z' WHERE id = ?1",
        [gone_id],
    )
    .unwrap();
    check_lists(&app, &path, world.project_id, 1);

    // What retention does: plain DELETEs. And changes of every counted column.
    db.execute_batch(
        "DELETE FROM jobs WHERE id % 3 = 0 AND id NOT IN (SELECT job_id FROM tasks)
                              AND id NOT IN (SELECT job_id FROM job_languages);
         UPDATE jobs SET result_code = 211, result_msg = 'pylint exited with status 2' WHERE id % 7 = 1;
         UPDATE jobs SET creator = 'dave', created_from = NULL WHERE id % 11 = 2;
         UPDATE jobs SET create_time = '2026-02-10T23:59:59.999999Z' WHERE id % 13 = 4;
         UPDATE jobs SET state = 1 WHERE id % 17 = 5 AND id NOT IN (SELECT job_id FROM tasks);",
    )
    .unwrap();
    db.execute(
        "UPDATE jobs SET project_id = ?1 WHERE id % 19 = 6 AND id NOT IN (SELECT job_id FROM tasks)",
        [other_id],
    )
    .unwrap();
    check_lists(&app, &path, world.project_id, 2);

    // A database of schema 15, before `job_sums` and the covering index, with jobs written
    // after its tallies: the next start counts the sums and swaps the index. (The jobs set
    // RUNNING above are closed first, or the start would queue them again.)
    db.execute_batch(
        "UPDATE jobs SET state = 2 WHERE state = 1;
         DROP TRIGGER jobs_sums_insert; DROP TRIGGER jobs_sums_delete; DROP TRIGGER jobs_sums_delete_store;
         DROP TRIGGER jobs_sums_update_old; DROP TRIGGER jobs_sums_update_old_store;
         DROP TRIGGER jobs_sums_update_new;
         DROP TABLE job_sums; DROP INDEX jobs_project_create_cover;
         CREATE INDEX jobs_project_create_time ON jobs (project_id, create_time);
         PRAGMA user_version = 15;",
    )
    .unwrap();
    seed(&db, &[world.project_id, other_id, gone_id], &mut rng, 300);
    drop(db);
    app.restart();
    let db = Connection::open(app.data_dir().join("codepup.db")).unwrap();
    let indexes: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'jobs_project_create%'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(indexes, ["jobs_project_create_cover"]);
    check_lists(&app, &path, world.project_id, 4);

    // A database from before the tallies: they are counted anew at the next start.
    db.execute_batch("DELETE FROM job_tallies; DELETE FROM job_days; PRAGMA user_version = 3;")
        .unwrap();
    drop(db);
    app.restart();
    check_lists(&app, &path, world.project_id, 3);
}

/// A finding as the naive count of the findings list sees it.
struct Finding {
    id: i64,
    project_id: i64,
    state: i64,
    severity: i64,
    author: Option<String>,
    path: String,
    rule: String,
    scan_open: Option<i64>,
    scan_fix: Option<i64>,
    jobs: Vec<i64>,
}

const PATHS: [&str; 5] = ["src/a.py", "src/B_1.py", "lib/100%.py", "docs/x.md", "A.PY"];
const RULES: [&str; 3] = ["E501", "long-line", "W_1"];

/// Findings of both projects written straight into the database, opened and fixed by the
/// scans given and seen by the jobs given, as codepup and retention write them.
fn seed_findings(conn: &Connection, projects: &[i64], scans: &[i64], jobs: &[i64], rng: &mut Lcg) {
    for n in 0..900 {
        let fixed = rng.next(3) == 0;
        conn.execute(
            "INSERT INTO issues (project_id, fingerprint, tool, rule, path, line, column_no, severity,
                 category, message, state, resolution, author, scan_open, scan_fix, created_time,
                 modified_time)
             VALUES (?1, ?2, 't', ?3, ?4, 1, 1, ?5, 'c', 'm', ?6, ?7, ?8, ?9, ?10, 'x', 'x')",
            rusqlite::params![
                projects[rng.next(projects.len())],
                format!("seeded-{n}"),
                RULES[rng.next(RULES.len())],
                PATHS[rng.next(PATHS.len())],
                rng.next(4) as i64 + 1,
                if fixed { 2 } else { 1 },
                i64::from(fixed),
                CREATORS[rng.next(CREATORS.len())],
                scans[rng.next(scans.len())],
                fixed.then(|| scans[rng.next(scans.len())]),
            ],
        )
        .unwrap();
        let issue_id = conn.last_insert_rowid();
        for job in jobs {
            if rng.next(2) == 0 {
                conn.execute(
                    "INSERT INTO job_issues (job_id, issue_id, line, column_no) VALUES (?1, ?2, 1, 1)",
                    [*job, issue_id],
                )
                .unwrap();
            }
        }
    }
}

fn all_findings(conn: &Connection) -> Vec<Finding> {
    let mut stmt = conn
        .prepare(
            "SELECT id, project_id, state, severity, author, path, rule, scan_open, scan_fix,
                 (SELECT group_concat(job_id) FROM job_issues WHERE issue_id = issues.id)
             FROM issues ORDER BY id DESC",
        )
        .unwrap();
    stmt.query_map([], |row| {
        let jobs: Option<String> = row.get(9)?;
        Ok(Finding {
            id: row.get(0)?,
            project_id: row.get(1)?,
            state: row.get(2)?,
            severity: row.get(3)?,
            author: row.get(4)?,
            path: row.get(5)?,
            rule: row.get(6)?,
            scan_open: row.get(7)?,
            scan_fix: row.get(8)?,
            jobs: jobs
                .unwrap_or_default()
                .split(',')
                .filter_map(|id| id.parse().ok())
                .collect(),
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// Whether the naive count of the findings list keeps a finding.
type FindingRule = Box<dyn Fn(&Finding) -> bool>;

/// A random mix of the findings list's filters: the query and the naive rule.
fn finding_filter(rng: &mut Lcg, scans: &[i64], jobs: &[i64]) -> (String, FindingRule) {
    let mut query = Vec::new();
    let mut rules: Vec<FindingRule> = Vec::new();
    if rng.next(3) == 0 {
        let state = rng.next(2) as i64 + 1;
        query.push(format!("state={state}"));
        rules.push(Box::new(move |f| f.state == state));
    }
    if rng.next(3) == 0 {
        let severity = rng.next(4) as i64 + 1;
        query.push(format!("severity={severity},4"));
        rules.push(Box::new(move |f| f.severity == severity || f.severity == 4));
    }
    if rng.next(3) == 0 {
        let needle = ["al", "B", "_x", "%"][rng.next(4)];
        query.push(format!("author={}", needle.replace('%', "%25")));
        rules.push(Box::new(move |f| contains(&f.author, needle)));
    }
    if rng.next(2) == 0 {
        let needle = ["a", "_1", "%", "src/", ".py"][rng.next(5)];
        query.push(format!("file_path={}", needle.replace('%', "%25")));
        rules.push(Box::new(move |f| contains(&Some(f.path.clone()), needle)));
    }
    if rng.next(4) == 0 {
        let needle = ["e5", "_", "line"][rng.next(3)];
        query.push(format!("checkrule_display_name={needle}"));
        rules.push(Box::new(move |f| contains(&Some(f.rule.clone()), needle)));
    }
    if rng.next(3) == 0 {
        let scan = scans[rng.next(scans.len())];
        query.push(format!("scan_open={scan}"));
        rules.push(Box::new(move |f| f.scan_open == Some(scan)));
    }
    if rng.next(4) == 0 {
        let scan = scans[rng.next(scans.len())];
        query.push(format!("scan_fix={scan}"));
        rules.push(Box::new(move |f| f.scan_fix == Some(scan)));
    }
    if rng.next(3) == 0 {
        let job = jobs[rng.next(jobs.len())];
        query.push(format!("job_id={job}"));
        rules.push(Box::new(move |f| f.jobs.contains(&job)));
    }
    (
        query.join("&"),
        Box::new(move |f| rules.iter().all(|rule| rule(f))),
    )
}

/// The findings list of the first project under many filter mixes: the count and the first and
/// last pages equal the naive answer.
fn check_findings(
    app: &TestApp,
    analysis: &str,
    project_id: i64,
    scans: &[i64],
    jobs: &[i64],
    seed: u64,
) {
    let db = Connection::open(app.data_dir().join("codepup.db")).unwrap();
    let findings = all_findings(&db);
    let mut rng = Lcg(seed);
    for _ in 0..60 {
        let (query, keeps) = finding_filter(&mut rng, scans, jobs);
        let expected: Vec<i64> = findings
            .iter()
            .filter(|f| f.project_id == project_id && keeps(f))
            .map(|f| f.id)
            .collect();
        let path = format!("{analysis}/codelint/issues/");
        let first = app
            .get(&format!("{path}?limit=7&{query}"), ADMIN_TOKEN)
            .expect(200);
        assert_eq!(first.data()["count"], expected.len(), "{query}");
        assert_eq!(
            ids(first.data()),
            expected.iter().take(7).copied().collect::<Vec<_>>(),
            "{query}"
        );
        let offset = expected.len().saturating_sub(5);
        let last = app
            .get(
                &format!("{path}?limit=5&offset={offset}&{query}"),
                ADMIN_TOKEN,
            )
            .expect(200);
        assert_eq!(
            ids(last.data()),
            expected[offset..].to_vec(),
            "{query} at {offset}"
        );
    }
}

#[test]
fn findings_counts_by_path_scan_and_job_equal_a_naive_count_also_after_writes_and_a_migration() {
    let mut app = TestApp::spawn();
    let (world, path, other_id) = two_scanned_projects(&app);
    let db = Connection::open(app.data_dir().join("codepup.db")).unwrap();
    let ids_of = |sql: &str| -> Vec<i64> {
        let mut stmt = db.prepare(sql).unwrap();
        stmt.query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for _ in 0..3 {
        db.execute(
            "INSERT INTO scans (project_id, scan_type, create_time) VALUES (?1, 2, 'x')",
            [world.project_id],
        )
        .unwrap();
    }
    let scans = ids_of("SELECT id FROM scans ORDER BY id");
    let jobs = ids_of("SELECT id FROM jobs ORDER BY id");
    let mut rng = Lcg(11);
    seed_findings(&db, &[world.project_id, other_id], &scans, &jobs, &mut rng);
    let analysis = path.replacen("/server/main/api/", "/server/analysis/api/", 1);
    check_findings(&app, &analysis, world.project_id, &scans, &jobs, 1);

    // Fixes, reopens, moves and deletes by plain SQL (retention deletes sightings, then findings).
    db.execute_batch(
        "UPDATE issues SET state = 2, resolution = 1, scan_fix = scan_open WHERE id % 5 = 1;
         UPDATE issues SET state = 1, resolution = 0, scan_fix = NULL WHERE id % 7 = 2;
         UPDATE issues SET path = 'moved/a_b.py', author = NULL WHERE id % 11 = 3;
         DELETE FROM job_issues WHERE issue_id % 3 = 0;
         DELETE FROM issues WHERE id % 6 = 0;",
    )
    .unwrap();
    db.execute(
        "UPDATE issues SET project_id = ?1 WHERE id % 13 = 4",
        [other_id],
    )
    .unwrap();
    check_findings(&app, &analysis, world.project_id, &scans, &jobs, 2);

    // A database from before these tallies: they are counted anew at the next start.
    db.execute_batch(
        "DELETE FROM issue_paths; DELETE FROM issue_scan_tallies; DELETE FROM job_issue_tallies;
         PRAGMA user_version = 12;",
    )
    .unwrap();
    drop(db);
    app.restart();
    check_findings(&app, &analysis, world.project_id, &scans, &jobs, 3);
}

/// Jobs of both projects written straight into the database, created in id order from
/// 2027-01-01 (after the scanned jobs), seven minutes apart: about four months, two thirds of
/// them in the first project, one in 400 still running.
fn seed_in_id_order(conn: &mut Connection, projects: [i64; 2], n: usize) {
    let transaction = conn.transaction().unwrap();
    {
        let mut insert = transaction
            .prepare(
                "INSERT INTO jobs (project_id, state, result_code, creator, created_from, result_msg,
                     create_time, end_time)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6,
                         strftime('%Y-%m-%dT%H:%M:%S.000000Z', '2027-01-01', ?7 || ' seconds'),
                         strftime('%Y-%m-%dT%H:%M:%S.000000Z', '2027-01-01', (?7 + 60) || ' seconds'))",
            )
            .unwrap();
        for i in 0..n {
            let running = i % 400 == 399;
            insert
                .execute(rusqlite::params![
                    projects[usize::from(i % 3 == 2)],
                    if running { 1 } else { 2 },
                    (!running).then_some([0, 1, 110, 211, 301][i % 5]),
                    format!("user{}", (i / 7) % 5),
                    ["api", "api", "tca_web"][(i / 2) % 3],
                    MESSAGES[i % MESSAGES.len()],
                    (i * 420) as i64,
                ])
                .unwrap();
        }
    }
    transaction.commit().unwrap();
}

/// Deep pages (offsets of 10,000 and more) of every list under a few filters equal the naive
/// answer.
fn check_deep_pages(app: &TestApp, project_path: &str, project_id: i64) {
    let db = Connection::open(app.data_dir().join("codepup.db")).unwrap();
    let jobs = all_jobs(&db);
    let filters: [(&str, Rule); 5] = [
        ("", Box::new(|_: &Job| true)),
        (
            "result_code_gte=200",
            Box::new(|job: &Job| job.code.is_some_and(|code| code >= 200)),
        ),
        (
            "creator=USER1",
            Box::new(|job: &Job| contains(&job.creator, "user1")),
        ),
        (
            "state=1,2&created_from=api",
            Box::new(|job: &Job| job.state >= 1 && contains(&job.origin, "api")),
        ),
        ("state=1", Box::new(|job: &Job| job.state == 1)),
    ];
    for (path, project) in [
        (format!("{project_path}/jobs/"), Some(project_id)),
        ("/server/main/api/v3/jobs/".to_string(), None),
        ("/server/main/api/v2/jobs/".to_string(), None),
    ] {
        for (query, keeps) in &filters {
            let mut expected: Vec<i64> = jobs
                .iter()
                .filter(|job| project.is_none_or(|id| job.project_id == id) && keeps(job))
                .map(|job| job.id)
                .collect();
            expected.sort_unstable_by(|a, b| b.cmp(a));
            for offset in [10_000, 12_345, 15_001, expected.len().saturating_sub(3)] {
                let page = app
                    .get(
                        &format!("{path}?limit=6&offset={offset}&{query}"),
                        ADMIN_TOKEN,
                    )
                    .expect(200);
                assert_eq!(page.data()["count"], expected.len(), "{path}?{query}");
                let want: Vec<i64> = expected.iter().skip(offset).take(6).copied().collect();
                assert_eq!(ids(page.data()), want, "{path}?{query} at {offset}");
            }
        }
    }
}

#[test]
fn deep_pages_skip_whole_days_and_equal_a_naive_page_also_when_ids_do_not_follow_days() {
    let app = TestApp::spawn();
    let (world, path, other_id) = two_scanned_projects(&app);
    let mut db = Connection::open(app.data_dir().join("codepup.db")).unwrap();
    seed_in_id_order(&mut db, [world.project_id, other_id], 24_000);
    check_deep_pages(&app, &path, world.project_id);

    // A job moved to an older day and one deleted: the ids no longer follow the days there, and
    // the days' tallies change.
    db.execute_batch(
        "UPDATE jobs SET create_time = '2027-01-02T00:00:00.000000Z'
             WHERE id = (SELECT MAX(id) - 100 FROM jobs);
         DELETE FROM jobs WHERE id = (SELECT MAX(id) - 3000 FROM jobs);",
    )
    .unwrap();
    check_deep_pages(&app, &path, world.project_id);
}
