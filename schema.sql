-- codepup's whole SQLite schema, applied at every start (src/db/mod.rs).
-- Every statement is idempotent: applying this file twice changes nothing.
-- Times are UTC text of fixed width ('2026-11-29T09:10:21.123456Z', src/clock.rs), so text order
-- is time order and range filters can use the indexes.
-- Changes IF NOT EXISTS cannot express go in numbered steps keyed on PRAGMA user_version.

CREATE TABLE IF NOT EXISTS users (
    id                 INTEGER PRIMARY KEY,
    username           TEXT    NOT NULL UNIQUE,
    nickname           TEXT    NOT NULL,
    is_superuser       INTEGER NOT NULL DEFAULT 0 CHECK (is_superuser IN (0, 1)),
    is_active          INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    -- The token itself is never stored: its first 8 characters find the row, and its
    -- SHA-256 is compared in constant time.
    token_prefix       TEXT    NOT NULL,
    token_hash         BLOB    NOT NULL,
    token_created_time TEXT    NOT NULL,
    created_time       TEXT    NOT NULL,
    -- argon2id PHC string; NULL for a user who signs in with the token only.
    password_hash      TEXT
);
CREATE INDEX IF NOT EXISTS users_token_prefix ON users (token_prefix);

-- Tokens handed out by password sign-in (TCA's credential service), kept as users' tokens are:
-- the prefix finds the row, the SHA-256 proves it. They stop working at `expires_time`.
CREATE TABLE IF NOT EXISTS sessions (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_prefix TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL,
    created_time TEXT    NOT NULL,
    expires_time TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_token_prefix ON sessions (token_prefix);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);

CREATE TABLE IF NOT EXISTS orgs (
    id           INTEGER PRIMARY KEY,
    org_sid      TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    description  TEXT,
    -- 1 active, 2 pending, 3 expired, 99 forbidden (TCA); codepup creates active orgs.
    status       INTEGER NOT NULL DEFAULT 1 CHECK (status IN (1, 2, 3, 99)),
    level        INTEGER NOT NULL DEFAULT 1,
    certificated INTEGER NOT NULL DEFAULT 0,
    owner_id     INTEGER REFERENCES users (id),
    created_time TEXT    NOT NULL
);

-- role: 1 admin, 2 member (TCA's PermissionEnum).
CREATE TABLE IF NOT EXISTS org_members (
    org_id  INTEGER NOT NULL REFERENCES orgs (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    role    INTEGER NOT NULL CHECK (role IN (1, 2)),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX IF NOT EXISTS org_members_user ON org_members (user_id);

CREATE TABLE IF NOT EXISTS teams (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES orgs (id),
    name         TEXT    NOT NULL,
    display_name TEXT    NOT NULL,
    description  TEXT,
    status       INTEGER NOT NULL DEFAULT 1 CHECK (status IN (1, 2)),
    creator_id   INTEGER REFERENCES users (id),
    created_time TEXT    NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE IF NOT EXISTS team_members (
    team_id INTEGER NOT NULL REFERENCES teams (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    role    INTEGER NOT NULL CHECK (role IN (1, 2)),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX IF NOT EXISTS team_members_user ON team_members (user_id);

CREATE TABLE IF NOT EXISTS repos (
    id           INTEGER PRIMARY KEY,
    team_id      INTEGER NOT NULL REFERENCES teams (id),
    name         TEXT    NOT NULL,
    -- Normalised for display and uniqueness (TCA §9.1); git is given fetch_url.
    scm_url      TEXT    NOT NULL,
    fetch_url    TEXT    NOT NULL,
    ssh_url      TEXT,
    scm_type     TEXT    NOT NULL DEFAULT 'git' CHECK (scm_type IN ('git')),
    created_from TEXT    NOT NULL DEFAULT 'codedog_web',
    creator_id   INTEGER REFERENCES users (id),
    state        INTEGER NOT NULL DEFAULT 1,
    created_time TEXT    NOT NULL,
    deleted_time TEXT,
    UNIQUE (team_id, scm_url)
);

-- Templates have repo_id NULL; a repo's schemes are copies or made from scratch.
CREATE TABLE IF NOT EXISTS scan_schemes (
    id                INTEGER PRIMARY KEY,
    repo_id           INTEGER REFERENCES repos (id),
    name              TEXT    NOT NULL,
    description       TEXT,
    refer_scheme_id   INTEGER REFERENCES scan_schemes (id),
    languages         TEXT    NOT NULL DEFAULT '[]',  -- JSON array of names
    tools             TEXT    NOT NULL DEFAULT '[]',  -- JSON array of tool names
    lint_enabled      INTEGER NOT NULL DEFAULT 0 CHECK (lint_enabled IN (0, 1)),
    cc_scan_enabled   INTEGER NOT NULL DEFAULT 0 CHECK (cc_scan_enabled IN (0, 1)),
    dup_scan_enabled  INTEGER NOT NULL DEFAULT 0 CHECK (dup_scan_enabled IN (0, 1)),
    cloc_scan_enabled INTEGER NOT NULL DEFAULT 1 CHECK (cloc_scan_enabled IN (0, 1)),
    job_runtime_limit INTEGER NOT NULL DEFAULT 600 CHECK (job_runtime_limit > 0),  -- minutes
    -- Whether findings get their author from `git blame` of the flagged line.
    blame_enabled     INTEGER NOT NULL DEFAULT 0 CHECK (blame_enabled IN (0, 1)),
    -- Functions of a higher cyclomatic complexity become cc findings (TCA's min_ccn).
    min_ccn           INTEGER NOT NULL DEFAULT 20 CHECK (min_ccn > 0),
    -- The quality gate (issue 11, added in schema 13); NULL (0 for the flag) is not checked:
    -- at most this many new findings of severity error or worse, no new secret, at most this
    -- many new functions over min_ccn, a duplicate rate of at most this percent.
    gate_max_new_errors  INTEGER CHECK (gate_max_new_errors >= 0),
    gate_no_new_secrets  INTEGER NOT NULL DEFAULT 0 CHECK (gate_no_new_secrets IN (0, 1)),
    gate_max_new_complex INTEGER CHECK (gate_max_new_complex >= 0),
    gate_max_dup_rate    REAL    CHECK (gate_max_dup_rate BETWEEN 0 AND 100),
    default_flag      INTEGER NOT NULL DEFAULT 0 CHECK (default_flag IN (0, 1)),
    status            INTEGER NOT NULL DEFAULT 1 CHECK (status IN (1, 2)),
    created_from      TEXT    NOT NULL DEFAULT 'web',
    creator_id        INTEGER REFERENCES users (id),
    created_time      TEXT    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS scan_schemes_repo_name ON scan_schemes (repo_id, name) WHERE repo_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS scan_schemes_template_name ON scan_schemes (name) WHERE repo_id IS NULL;

-- The global templates every server starts with.
INSERT OR IGNORE INTO scan_schemes
    (id, repo_id, name, description, lint_enabled, tools, cloc_scan_enabled, default_flag, created_from, created_time)
VALUES
    (1, NULL, 'default', 'line counting and the built-in checker, for every language', 1, '["codepup"]', 1, 1,
     'codepup', '1970-01-01T00:00:00.000000Z');
-- Added by name, not id: a database made before it existed may hold a repository's scheme as id 2.
INSERT INTO scan_schemes
    (repo_id, name, description, languages, lint_enabled, tools, cloc_scan_enabled, created_from, created_time)
SELECT NULL, 'python', 'line counting, the built-in checker and ruff for Python', '["python"]', 1,
       '["codepup", "ruff"]', 1, 'codepup', '1970-01-01T00:00:00.000000Z'
WHERE NOT EXISTS (SELECT 1 FROM scan_schemes WHERE repo_id IS NULL AND name = 'python');

CREATE TABLE IF NOT EXISTS projects (
    id                   INTEGER PRIMARY KEY,
    repo_id              INTEGER NOT NULL REFERENCES repos (id),
    branch               TEXT    NOT NULL,
    scan_scheme_id       INTEGER NOT NULL REFERENCES scan_schemes (id),
    scan_path            TEXT    NOT NULL DEFAULT '/',
    -- SHA-256 of 'repo_id#scheme_id#branch#scan_path' (TCA's project_key): creation is idempotent per key.
    project_key          TEXT    NOT NULL UNIQUE,
    -- 1 active, 2 inactive, 3 archiving, 4 archived-not-cleaned, 5 archived.
    status               INTEGER NOT NULL DEFAULT 1 CHECK (status IN (1, 2, 3, 4, 5)),
    created_from         TEXT    NOT NULL DEFAULT 'codedog_web',
    creator_id           INTEGER REFERENCES users (id),
    scm_initial_revision TEXT,
    created_time         TEXT    NOT NULL,
    deleted_time         TEXT
);
CREATE INDEX IF NOT EXISTS projects_repo ON projects (repo_id);

-- The result cache: what a per-file analyzer (line counting, the built-in checker) made of one
-- file, keyed by the analyzer with its version, the path (a language follows from the name) and
-- the blob id (the same id means the same bytes). Shared by the projects of a repository, so a
-- second project on a repository starts warm.
CREATE TABLE IF NOT EXISTS file_results (
    repo_id  INTEGER NOT NULL REFERENCES repos (id),
    analyzer TEXT    NOT NULL,  -- name@version, e.g. codecount@1
    path     TEXT    NOT NULL,
    blob     TEXT    NOT NULL,
    result   TEXT    NOT NULL,  -- the analyzer's own encoding
    PRIMARY KEY (repo_id, analyzer, path, blob)
) WITHOUT ROWID;

-- The cached results each project's last stored scan used, one per analyzer and path, with a
-- copy of the result (a scan of the project reads its own rows alone): what keeps a
-- `file_results` row alive. A row no project refers to any more is deleted with the reference.
CREATE TABLE IF NOT EXISTS project_file_results (
    project_id INTEGER NOT NULL REFERENCES projects (id),
    analyzer   TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    blob       TEXT    NOT NULL,
    result     TEXT    NOT NULL,
    PRIMARY KEY (project_id, analyzer, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS project_file_results_key ON project_file_results (analyzer, path, blob);

-- A local scan-id sequence (TCA keeps scans on a separate analysis server).
CREATE TABLE IF NOT EXISTS scans (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL REFERENCES projects (id),
    scan_type     INTEGER NOT NULL CHECK (scan_type IN (1, 2)),  -- 1 incremental, 2 full
    scm_revision  TEXT,
    base_revision TEXT,
    create_time   TEXT    NOT NULL
);
-- A project's scan history, newest first.
CREATE INDEX IF NOT EXISTS scans_project ON scans (project_id, id);
-- The quality gate (issue 11) reads the scans of one revision of a project.
CREATE INDEX IF NOT EXISTS scans_project_revision ON scans (project_id, scm_revision);

-- state: 0 WAITING, 1 RUNNING, 2 CLOSED, 3 CLOSING, 4 INITING, 5 INITED (TCA's values).
CREATE TABLE IF NOT EXISTS jobs (
    id                  INTEGER PRIMARY KEY,
    project_id          INTEGER NOT NULL REFERENCES projects (id),
    scan_id             INTEGER REFERENCES scans (id),
    state               INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2, 3, 4, 5)),
    incr_scan           INTEGER NOT NULL DEFAULT 1 CHECK (incr_scan IN (0, 1)),
    force_create        INTEGER NOT NULL DEFAULT 0 CHECK (force_create IN (0, 1)),
    async_flag          INTEGER NOT NULL DEFAULT 1 CHECK (async_flag IN (0, 1)),
    create_time         TEXT    NOT NULL,
    -- When a worker took the job; job_runtime_limit counts from here.
    claim_time          TEXT,
    initialized_time    TEXT,
    start_time          TEXT,
    closing_time        TEXT,
    end_time            TEXT,
    expire_time         TEXT,
    result_code         INTEGER,
    result_msg          TEXT,
    result_path         TEXT,
    task_num            INTEGER NOT NULL DEFAULT 0,
    task_done           INTEGER NOT NULL DEFAULT 0,
    remarks             TEXT,
    remarked_by         INTEGER REFERENCES users (id),
    code_line_num       INTEGER,
    comment_line_num    INTEGER,
    blank_line_num      INTEGER,
    total_line_num      INTEGER,
    efficient_comment_line_num          INTEGER,
    filtered_efficient_comment_line_num INTEGER,
    created_from        TEXT,
    creator             TEXT,
    creator_id          INTEGER REFERENCES users (id),
    -- How many times a server start found this job unfinished and re-queued it.
    restart_count       INTEGER NOT NULL DEFAULT 0,
    -- When retention removed the job's logs from disk (--retain-log-days); added in schema 5.
    log_removed_time    TEXT,
    -- The quality gate's verdict, JSON {"passed": bool, "reasons": [text]}, written when the
    -- job closed with results (code 0) or matched its baseline (code 1) under a scheme with
    -- thresholds; NULL otherwise. Added in schema 13.
    gate                TEXT
);
-- The job list: newest first within a project, filtered by time, state and result code.
CREATE INDEX IF NOT EXISTS jobs_project_id ON jobs (project_id, id);
-- A `create_time` range, covering every column the list filters name: the jobs of a partial day
-- are counted in this index alone, never read from the table (src/db/jobs/tally.rs). It replaced
-- `jobs_project_create_time` (project_id, create_time) in schema 16.
CREATE INDEX IF NOT EXISTS jobs_project_create_cover
    ON jobs (project_id, create_time, state, result_code, creator, created_from, result_msg);
CREATE INDEX IF NOT EXISTS jobs_project_state ON jobs (project_id, state);
CREATE INDEX IF NOT EXISTS jobs_project_result_code ON jobs (project_id, result_code);
-- Covers the substring filters (creator, created_from, result_msg): a scan of this index reads far
-- less than a scan of the jobs themselves.
CREATE INDEX IF NOT EXISTS jobs_project_text ON jobs (project_id, creator, created_from, result_msg);
-- An incremental scan's baseline (db::jobs::scans::baseline): the project's latest job with stored
-- results. Without it, a project whose jobs all failed walked every one of its jobs per scan (and
-- per retention pass). The literals are code::OK and code::INCR_IGNORE (the query repeats them:
-- SQLite uses a partial index only for a WHERE that names its constants).
CREATE INDEX IF NOT EXISTS jobs_project_baseline ON jobs (project_id, id)
    WHERE state = 2 AND result_code IN (0, 1);
-- The queue: unfinished jobs in arrival order.
CREATE INDEX IF NOT EXISTS jobs_state_id ON jobs (state, id);
-- The status page's queue health: jobs closed in the last day.
CREATE INDEX IF NOT EXISTS jobs_end_time ON jobs (end_time);
-- Retention (src/retention.rs): the job of a scan (a scan row kept for a finding's scan_open
-- goes when its job and finding have). The index of closed jobs whose logs are still on disk,
-- `jobs_logs_kept`, is made by `db::migrate` step 5, after the column it names exists.
CREATE INDEX IF NOT EXISTS jobs_scan ON jobs (scan_id);

-- Per-language line counts of a job's codecount task.
CREATE TABLE IF NOT EXISTS job_languages (
    job_id   INTEGER NOT NULL REFERENCES jobs (id),
    language TEXT    NOT NULL,
    files    INTEGER NOT NULL,
    code     INTEGER NOT NULL,
    comment  INTEGER NOT NULL,
    blank    INTEGER NOT NULL,
    PRIMARY KEY (job_id, language)
);

-- state: 0 WAITING, 1 RUNNING, 2 CLOSED (TCA's task states; codepup uses these three).
CREATE TABLE IF NOT EXISTS tasks (
    id            INTEGER PRIMARY KEY,
    job_id        INTEGER NOT NULL REFERENCES jobs (id),
    module        TEXT    NOT NULL,
    task_name     TEXT    NOT NULL,
    state         INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2, 3, 4)),
    progress_rate INTEGER NOT NULL DEFAULT 0 CHECK (progress_rate BETWEEN 0 AND 100),
    result_code   INTEGER,
    result_msg    TEXT,
    result_path   TEXT,
    create_time   TEXT    NOT NULL,
    start_time    TEXT,
    end_time      TEXT,
    -- The codepup version that made the task, and the one that ran it (TCA's create_version and
    -- execute_version). Added in schema version 2 (src/db/mod.rs adds them to older files).
    create_version  TEXT,
    execute_version TEXT,
    UNIQUE (job_id, task_name)
);

-- A task's progress steps as the scan engine reports them (TCA's TaskProgress): each change of
-- progress_rate and the close, with its time. Rows go with their task when a restart re-makes it.
CREATE TABLE IF NOT EXISTS task_progresses (
    id            INTEGER PRIMARY KEY,
    task_id       INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    progress_rate INTEGER NOT NULL CHECK (progress_rate BETWEEN 0 AND 100),
    message       TEXT    NOT NULL,
    create_time   TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS task_progresses_task ON task_progresses (task_id, id);

-- Lint findings, kept per project across scans (TCA's codelint issues). A finding is known by its
-- fingerprint (src/domain/finding.rs), which does not change when lines move.
-- state: 1 open, 2 resolved, 3 closed; resolution: 0 none, 1 fixed, 2 won't fix, 3 false
-- positive, 4 duplicate, 5 path filtered, 6 rule removed.
CREATE TABLE IF NOT EXISTS issues (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL REFERENCES projects (id),
    fingerprint   TEXT    NOT NULL,
    tool          TEXT    NOT NULL,
    rule          TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    line          INTEGER NOT NULL,
    column_no     INTEGER NOT NULL,
    severity      INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 4),
    category      TEXT    NOT NULL,
    message       TEXT    NOT NULL,
    state         INTEGER NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 3)),
    resolution    INTEGER NOT NULL DEFAULT 0 CHECK (resolution BETWEEN 0 AND 6),
    author        TEXT,
    author_email  TEXT,
    revision      TEXT,
    scan_open     INTEGER REFERENCES scans (id),
    scan_fix      INTEGER REFERENCES scans (id),
    fixed_time    TEXT,
    created_time  TEXT    NOT NULL,
    modified_time TEXT    NOT NULL,
    UNIQUE (project_id, fingerprint)
);
-- Retention: the findings that name a scan as their first sighting or their fix.
CREATE INDEX IF NOT EXISTS issues_scan_open ON issues (scan_open);
CREATE INDEX IF NOT EXISTS issues_scan_fix ON issues (scan_fix);

-- Which findings each job saw, where: the job's SARIF export.
CREATE TABLE IF NOT EXISTS job_issues (
    job_id    INTEGER NOT NULL REFERENCES jobs (id),
    issue_id  INTEGER NOT NULL REFERENCES issues (id),
    line      INTEGER NOT NULL,
    column_no INTEGER NOT NULL,
    PRIMARY KEY (job_id, issue_id)
) WITHOUT ROWID;
-- A finding's sightings, latest last: retention keeps the job of an open finding's last one.
CREATE INDEX IF NOT EXISTS job_issues_issue ON job_issues (issue_id, job_id);

-- Triage (issue 11): what people did to findings, newest last (TCA's IssueComment): resolution,
-- severity and author changes and plain comments, with who and when. `issue_id` is not a foreign
-- key on purpose (TCA keeps the history of a finding that is gone).
CREATE TABLE IF NOT EXISTS issue_comments (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects (id),
    issue_id     INTEGER NOT NULL,
    action       TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    creator      TEXT    NOT NULL,
    creator_id   INTEGER REFERENCES users (id),
    created_time TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS issue_comments_issue ON issue_comments (issue_id, id);

-- Findings a person marked won't fix (resolution 2) or false positive (3), by fingerprint
-- (TCA's WontFixIssue and InvalidIssue): later scans leave them resolved. scope 1 is the
-- project's own finding; scope 2 covers the same fingerprint in every project of the repository,
-- including findings later scans open. Reopening the finding deletes its row.
CREATE TABLE IF NOT EXISTS issue_ignores (
    project_id   INTEGER NOT NULL REFERENCES projects (id),
    fingerprint  TEXT    NOT NULL,
    repo_id      INTEGER NOT NULL REFERENCES repos (id),
    resolution   INTEGER NOT NULL CHECK (resolution IN (2, 3)),
    scope        INTEGER NOT NULL CHECK (scope IN (1, 2)),
    reason       TEXT,
    creator_id   INTEGER REFERENCES users (id),
    created_time TEXT    NOT NULL,
    PRIMARY KEY (project_id, fingerprint)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS issue_ignores_repo ON issue_ignores (repo_id, fingerprint) WHERE scope = 2;

-- Severities a person set: a later scan does not put the tool's severity back.
CREATE TABLE IF NOT EXISTS issue_severity_overrides (
    issue_id     INTEGER PRIMARY KEY REFERENCES issues (id),
    severity     INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 4),
    creator_id   INTEGER REFERENCES users (id),
    created_time TEXT    NOT NULL
);

-- Push webhooks in (issue 10): at most one per repository. `hook_key` is the random id in the
-- hook's URL; `secret` is kept as given, since checking a forge's HMAC needs it (the file is
-- mode 0600). Deleting the hook removes the row; its deliveries go with it.
CREATE TABLE IF NOT EXISTS repo_hooks (
    id           INTEGER PRIMARY KEY,
    repo_id      INTEGER NOT NULL UNIQUE REFERENCES repos (id),
    hook_key     TEXT    NOT NULL UNIQUE,
    secret       TEXT    NOT NULL,
    creator_id   INTEGER NOT NULL REFERENCES users (id),
    created_time TEXT    NOT NULL
);

-- Deliveries a hook accepted (signature good), with the answer given: a retried delivery
-- (same forge delivery id) gets the same answer and starts nothing.
CREATE TABLE IF NOT EXISTS hook_deliveries (
    id            INTEGER PRIMARY KEY,
    hook_id       INTEGER NOT NULL REFERENCES repo_hooks (id) ON DELETE CASCADE,
    delivery_id   TEXT    NOT NULL,
    forge         TEXT    NOT NULL,
    event         TEXT    NOT NULL,
    summary       TEXT    NOT NULL,
    answer        TEXT    NOT NULL,  -- the envelope's data, JSON
    received_time TEXT    NOT NULL,
    UNIQUE (hook_id, delivery_id)
);

-- A push arrived while a job of the project ran: one more incremental scan is owed when the
-- unfinished jobs are done (src/hooks/mod.rs). `head` is the pushed commit, so a job that
-- already scanned it settles the debt without a new scan.
CREATE TABLE IF NOT EXISTS scan_followups (
    project_id     INTEGER PRIMARY KEY REFERENCES projects (id),
    head           TEXT,
    created_from   TEXT    NOT NULL,
    creator        TEXT    NOT NULL,
    creator_id     INTEGER NOT NULL REFERENCES users (id),
    requested_time TEXT    NOT NULL
);

-- Scheduled scans (issue 10): one per project, a 5-field cron read in the server's
-- --tz-offset. `next_run_time` is the next slot (UTC); a server that was down runs a missed
-- slot once, then computes the next one from the present.
CREATE TABLE IF NOT EXISTS project_schedules (
    project_id      INTEGER PRIMARY KEY REFERENCES projects (id),
    cron            TEXT    NOT NULL,
    incr_scan       INTEGER NOT NULL DEFAULT 1 CHECK (incr_scan IN (0, 1)),
    is_enabled      INTEGER NOT NULL DEFAULT 1 CHECK (is_enabled IN (0, 1)),
    -- Why the scheduler turned it off, e.g. after 10 scans failed in git; cleared by a PUT.
    disabled_reason TEXT,
    next_run_time   TEXT,
    last_run_time   TEXT,
    last_job_id     INTEGER REFERENCES jobs (id),
    creator_id      INTEGER NOT NULL REFERENCES users (id),
    modified_time   TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS project_schedules_due ON project_schedules (is_enabled, next_run_time);

-- A scheme's rule configuration (issue 11, TCA's checkprofile rules): a rule of a tool turned
-- on or off, or given another severity; NULL keeps the tool's default. The built-in checker's
-- rules have defaults of their own (src/analyzers/builtin.rs); other tools' rules are on.
CREATE TABLE IF NOT EXISTS scheme_rules (
    scheme_id INTEGER NOT NULL REFERENCES scan_schemes (id) ON DELETE CASCADE,
    tool      TEXT    NOT NULL,
    rule      TEXT    NOT NULL,
    enabled   INTEGER CHECK (enabled IN (0, 1)),
    severity  INTEGER CHECK (severity BETWEEN 1 AND 4),
    PRIMARY KEY (scheme_id, tool, rule)
) WITHOUT ROWID;

-- A scheme's path filters (TCA's scandirs): path_type 1 wildcard, 2 regular expression;
-- scan_type 1 include, 2 exclude. Every tool and the line counter take only the files they allow.
CREATE TABLE IF NOT EXISTS scheme_scandirs (
    id        INTEGER PRIMARY KEY,
    scheme_id INTEGER NOT NULL REFERENCES scan_schemes (id) ON DELETE CASCADE,
    dir_path  TEXT    NOT NULL,
    path_type INTEGER NOT NULL CHECK (path_type IN (1, 2)),
    scan_type INTEGER NOT NULL CHECK (scan_type IN (1, 2)),
    UNIQUE (scheme_id, dir_path)
);

-- The identity of the rule configuration and path filters a job's stored results were found
-- with: an incremental scan whose scheme says otherwise now is made a full scan, so findings of
-- a rule turned off, or of a path filtered out, are closed everywhere.
CREATE TABLE IF NOT EXISTS job_configs (
    job_id      INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    config_hash TEXT    NOT NULL
);
-- Notifications out (issue 10): webhooks of an org, a team or a project (exactly one of the
-- three is set). `events` is a comma list (job.closed, job.failed, findings.new); `secret`
-- signs the body when set. `link_origin` and `link_api_root` are where the payload's links
-- point: `--public-url`, else the origin the webhook was made through.
CREATE TABLE IF NOT EXISTS notify_webhooks (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER REFERENCES orgs (id),
    team_id       INTEGER REFERENCES teams (id),
    project_id    INTEGER REFERENCES projects (id),
    url           TEXT    NOT NULL,
    events        TEXT    NOT NULL,
    secret        TEXT,
    format        TEXT    NOT NULL CHECK (format IN ('json', 'slack')),
    link_origin   TEXT    NOT NULL,
    link_api_root TEXT    NOT NULL,
    creator_id    INTEGER NOT NULL REFERENCES users (id),
    created_time  TEXT    NOT NULL,
    CHECK ((org_id IS NOT NULL) + (team_id IS NOT NULL) + (project_id IS NOT NULL) = 1)
);
CREATE INDEX IF NOT EXISTS notify_webhooks_org ON notify_webhooks (org_id) WHERE org_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS notify_webhooks_team ON notify_webhooks (team_id) WHERE team_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS notify_webhooks_project ON notify_webhooks (project_id) WHERE project_id IS NOT NULL;

-- The outbox: one row per webhook and event of a closed job, written in the transaction that
-- closes the job (db::jobs::close), with the body as it will be sent. The `notify-delivery`
-- thread sends rows whose `next_attempt_time` has come. state: pending, delivered, failed
-- (given up). A redelivery is a new row (new delivery id) pointing at the one it repeats.
CREATE TABLE IF NOT EXISTS notify_deliveries (
    id                INTEGER PRIMARY KEY,
    webhook_id        INTEGER NOT NULL REFERENCES notify_webhooks (id) ON DELETE CASCADE,
    job_id            INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    event             TEXT    NOT NULL,
    delivery_uuid     TEXT    NOT NULL UNIQUE,
    body              TEXT    NOT NULL,
    state             TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_time TEXT,
    redelivery_of     INTEGER REFERENCES notify_deliveries (id) ON DELETE SET NULL,
    created_time      TEXT    NOT NULL,
    finished_time     TEXT
);
CREATE INDEX IF NOT EXISTS notify_deliveries_due ON notify_deliveries (state, next_attempt_time);
CREATE INDEX IF NOT EXISTS notify_deliveries_webhook ON notify_deliveries (webhook_id, id);

-- Each try of a delivery: the answer's status (null when none came), what went wrong, how long
-- it took, and the first 1 KiB of the answer.
CREATE TABLE IF NOT EXISTS notify_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL REFERENCES notify_deliveries (id) ON DELETE CASCADE,
    attempt_time TEXT    NOT NULL,
    status_code  INTEGER,
    error        TEXT,
    latency_ms   INTEGER NOT NULL,
    answer       TEXT
);
CREATE INDEX IF NOT EXISTS notify_attempts_delivery ON notify_attempts (delivery_id, id);
-- Counts of closed jobs kept by triggers (issue 9), so a filtered list's `count` is a sum over
-- a few rows instead of a scan of every matching job (src/db/jobs/tally.rs); the few unfinished
-- jobs are counted in `jobs` (state index), so a job's way through the queue costs the tallies
-- nothing until it closes. One row per project, period and combination of the filtered columns,
-- at three periods of `create_time` (UTC): 'A' (all time), 'M2026-02' (a month), 'D2026-02-10' (a
-- day). NULLs are stored as -1 / '' (NOT NULL keeps the key a plain WITHOUT ROWID primary key,
-- read in order): `code_set` says whether `result_code` was set, and a substring filter never
-- matches ''. The triggers below keep the rows exact under every INSERT, UPDATE and DELETE of
-- `jobs`, whoever issues it; a row whose count falls to 0 is deleted.
CREATE TABLE IF NOT EXISTS job_tallies (
    project_id   INTEGER NOT NULL,
    period       TEXT    NOT NULL,
    state        INTEGER NOT NULL,
    code_set     INTEGER NOT NULL,
    result_code  INTEGER NOT NULL,
    creator      TEXT    NOT NULL,
    created_from TEXT    NOT NULL,
    result_msg   TEXT    NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (project_id, period, state, code_set, result_code, creator, created_from, result_msg)
) WITHOUT ROWID;

-- The lowest and highest job id created on each day (UTC) per project: where a list filtered by
-- `create_time` starts and stops walking the jobs by id. Only ever widened (a deleted job leaves
-- its day's bounds as they were, still a superset), so it is a bound and never a count.
CREATE TABLE IF NOT EXISTS job_days (
    project_id INTEGER NOT NULL,
    day        TEXT    NOT NULL,
    min_id     INTEGER NOT NULL,
    max_id     INTEGER NOT NULL,
    PRIMARY KEY (project_id, day)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS jobs_days_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_days (project_id, day, min_id, max_id)
    VALUES (new.project_id, substr(new.create_time, 1, 10), new.id, new.id)
    ON CONFLICT DO UPDATE SET min_id = MIN(min_id, excluded.min_id),
                              max_id = MAX(max_id, excluded.max_id);
END;

CREATE TRIGGER IF NOT EXISTS jobs_days_update AFTER UPDATE OF project_id, create_time ON jobs
WHEN old.project_id IS NOT new.project_id OR old.create_time IS NOT new.create_time
BEGIN
    INSERT INTO job_days (project_id, day, min_id, max_id)
    VALUES (new.project_id, substr(new.create_time, 1, 10), new.id, new.id)
    ON CONFLICT DO UPDATE SET min_id = MIN(min_id, excluded.min_id),
                              max_id = MAX(max_id, excluded.max_id);
END;

CREATE TRIGGER IF NOT EXISTS jobs_tally_insert AFTER INSERT ON jobs WHEN new.state = 2 BEGIN
    INSERT INTO job_tallies
        (project_id, period, state, code_set, result_code, creator, created_from, result_msg, n)
    SELECT new.project_id, p.period, new.state, new.result_code IS NOT NULL,
           IFNULL(new.result_code, -1), IFNULL(new.creator, ''), IFNULL(new.created_from, ''),
           IFNULL(new.result_msg, ''), 1
    FROM (SELECT 'A' AS period UNION ALL SELECT 'M' || substr(new.create_time, 1, 7)
          UNION ALL SELECT 'D' || substr(new.create_time, 1, 10)) p
    WHERE 1
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER IF NOT EXISTS jobs_tally_delete AFTER DELETE ON jobs WHEN old.state = 2 BEGIN
    UPDATE job_tallies SET n = n - 1
    WHERE project_id = old.project_id
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '') AND result_msg = IFNULL(old.result_msg, '');
    DELETE FROM job_tallies
    WHERE project_id = old.project_id
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '') AND result_msg = IFNULL(old.result_msg, '')
      AND n <= 0;
END;

-- An update of a counted column of a closed job takes its old row's counts away, and one that
-- leaves it closed adds the new row's (a close is the common case: only the second runs).
CREATE TRIGGER IF NOT EXISTS jobs_tally_update_old
AFTER UPDATE OF project_id, state, result_code, creator, created_from, result_msg, create_time ON jobs
WHEN old.state = 2
  AND (old.project_id IS NOT new.project_id OR old.state IS NOT new.state
       OR old.result_code IS NOT new.result_code OR old.creator IS NOT new.creator
       OR old.created_from IS NOT new.created_from OR old.result_msg IS NOT new.result_msg
       OR old.create_time IS NOT new.create_time)
BEGIN
    UPDATE job_tallies SET n = n - 1
    WHERE project_id = old.project_id
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '') AND result_msg = IFNULL(old.result_msg, '');
    DELETE FROM job_tallies
    WHERE project_id = old.project_id
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '') AND result_msg = IFNULL(old.result_msg, '')
      AND n <= 0;
END;

CREATE TRIGGER IF NOT EXISTS jobs_tally_update_new
AFTER UPDATE OF project_id, state, result_code, creator, created_from, result_msg, create_time ON jobs
WHEN new.state = 2
  AND (old.project_id IS NOT new.project_id OR old.state IS NOT new.state
       OR old.result_code IS NOT new.result_code OR old.creator IS NOT new.creator
       OR old.created_from IS NOT new.created_from OR old.result_msg IS NOT new.result_msg
       OR old.create_time IS NOT new.create_time)
BEGIN
    INSERT INTO job_tallies
        (project_id, period, state, code_set, result_code, creator, created_from, result_msg, n)
    SELECT new.project_id, p.period, new.state, new.result_code IS NOT NULL,
           IFNULL(new.result_code, -1), IFNULL(new.creator, ''), IFNULL(new.created_from, ''),
           IFNULL(new.result_msg, ''), 1
    FROM (SELECT 'A' AS period UNION ALL SELECT 'M' || substr(new.create_time, 1, 7)
          UNION ALL SELECT 'D' || substr(new.create_time, 1, 10)) p
    WHERE 1
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- `job_tallies` without `result_msg`, per project and for the whole store (`project_id` 0), kept
-- by the triggers below the same way (schema 16): a count whose filter names no message sums
-- these, so its rows are the combinations of the few counted values (no message unique to its
-- job, like "superseded by job N", makes a row of its own), and a list of every project reads
-- the store's rows instead of each project's (src/db/jobs/tally.rs).
CREATE TABLE IF NOT EXISTS job_sums (
    project_id   INTEGER NOT NULL,
    period       TEXT    NOT NULL,
    state        INTEGER NOT NULL,
    code_set     INTEGER NOT NULL,
    result_code  INTEGER NOT NULL,
    creator      TEXT    NOT NULL,
    created_from TEXT    NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (project_id, period, state, code_set, result_code, creator, created_from)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS jobs_sums_insert AFTER INSERT ON jobs WHEN new.state = 2 BEGIN
    INSERT INTO job_sums
        (project_id, period, state, code_set, result_code, creator, created_from, n)
    SELECT s.project_id, p.period, new.state, new.result_code IS NOT NULL,
           IFNULL(new.result_code, -1), IFNULL(new.creator, ''), IFNULL(new.created_from, ''), 1
    FROM (SELECT 'A' AS period UNION ALL SELECT 'M' || substr(new.create_time, 1, 7)
          UNION ALL SELECT 'D' || substr(new.create_time, 1, 10)) p,
         (SELECT new.project_id AS project_id UNION ALL SELECT 0) s
    WHERE 1
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- A job's delete takes it out of its project's sums and out of the store's (project 0) in two
-- triggers: one trigger with both (`project_id IN (old.project_id, 0)`, or four statements)
-- cost retention about 3x the CPU per deleted job (measured on 400,000 jobs: 125 against 40 µs).
CREATE TRIGGER IF NOT EXISTS jobs_sums_delete AFTER DELETE ON jobs WHEN old.state = 2 BEGIN
    UPDATE job_sums SET n = n - 1
    WHERE project_id = old.project_id
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '');
    DELETE FROM job_sums
    WHERE project_id = old.project_id
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '') AND n <= 0;
END;

CREATE TRIGGER IF NOT EXISTS jobs_sums_delete_store AFTER DELETE ON jobs WHEN old.state = 2 BEGIN
    UPDATE job_sums SET n = n - 1
    WHERE project_id = 0
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '');
    DELETE FROM job_sums
    WHERE project_id = 0
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '') AND n <= 0;
END;

-- An update takes the job's old row out of its project's sums and the store's in two triggers,
-- as the delete does: `project_id IN (old.project_id, 0)` is the form that cost retention's
-- deletes three times the CPU (schema 20).
CREATE TRIGGER IF NOT EXISTS jobs_sums_update_old
AFTER UPDATE OF project_id, state, result_code, creator, created_from, create_time ON jobs
WHEN old.state = 2
  AND (old.project_id IS NOT new.project_id OR old.state IS NOT new.state
       OR old.result_code IS NOT new.result_code OR old.creator IS NOT new.creator
       OR old.created_from IS NOT new.created_from OR old.create_time IS NOT new.create_time)
BEGIN
    UPDATE job_sums SET n = n - 1
    WHERE project_id = old.project_id
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '');
    DELETE FROM job_sums
    WHERE project_id = old.project_id
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '') AND n <= 0;
END;

CREATE TRIGGER IF NOT EXISTS jobs_sums_update_old_store
AFTER UPDATE OF project_id, state, result_code, creator, created_from, create_time ON jobs
WHEN old.state = 2
  AND (old.project_id IS NOT new.project_id OR old.state IS NOT new.state
       OR old.result_code IS NOT new.result_code OR old.creator IS NOT new.creator
       OR old.created_from IS NOT new.created_from OR old.create_time IS NOT new.create_time)
BEGIN
    UPDATE job_sums SET n = n - 1
    WHERE project_id = 0
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '');
    DELETE FROM job_sums
    WHERE project_id = 0
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '') AND n <= 0;
END;

CREATE TRIGGER IF NOT EXISTS jobs_sums_update_new
AFTER UPDATE OF project_id, state, result_code, creator, created_from, create_time ON jobs
WHEN new.state = 2
  AND (old.project_id IS NOT new.project_id OR old.state IS NOT new.state
       OR old.result_code IS NOT new.result_code OR old.creator IS NOT new.creator
       OR old.created_from IS NOT new.created_from OR old.create_time IS NOT new.create_time)
BEGIN
    INSERT INTO job_sums
        (project_id, period, state, code_set, result_code, creator, created_from, n)
    SELECT s.project_id, p.period, new.state, new.result_code IS NOT NULL,
           IFNULL(new.result_code, -1), IFNULL(new.creator, ''), IFNULL(new.created_from, ''), 1
    FROM (SELECT 'A' AS period UNION ALL SELECT 'M' || substr(new.create_time, 1, 7)
          UNION ALL SELECT 'D' || substr(new.create_time, 1, 10)) p,
         (SELECT new.project_id AS project_id UNION ALL SELECT 0) s
    WHERE 1
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- The store's job counts by message (schema 20): a filter on `result_msg` across projects
-- (`v3/jobs/`, `v2/jobs/`) finds the matching messages first, among the distinct ones, through a
-- trigram index, then sums only their rows, instead of every message row of every project
-- (src/db/jobs/tally.rs). `job_messages` holds each distinct message of the closed jobs (NULL as
-- '', as in `job_tallies`) with how many closed jobs carry it, and goes when that reaches 0;
-- `job_message_sums` is `job_sums`' store rows (project 0) keyed by message first, so one
-- message's rows of a period range are one seek.
CREATE TABLE IF NOT EXISTS job_messages (
    id   INTEGER PRIMARY KEY,
    text TEXT    NOT NULL UNIQUE,
    n    INTEGER NOT NULL
);

CREATE VIRTUAL TABLE IF NOT EXISTS job_messages_trigram
    USING fts5 (text, content = 'job_messages', content_rowid = 'id', tokenize = 'trigram');

CREATE TRIGGER IF NOT EXISTS job_messages_trigram_insert AFTER INSERT ON job_messages BEGIN
    INSERT INTO job_messages_trigram (rowid, text) VALUES (new.id, new.text);
END;

CREATE TRIGGER IF NOT EXISTS job_messages_trigram_delete AFTER DELETE ON job_messages BEGIN
    INSERT INTO job_messages_trigram (job_messages_trigram, rowid, text)
    VALUES ('delete', old.id, old.text);
END;

CREATE TABLE IF NOT EXISTS job_message_sums (
    message_id   INTEGER NOT NULL,
    period       TEXT    NOT NULL,
    state        INTEGER NOT NULL,
    code_set     INTEGER NOT NULL,
    result_code  INTEGER NOT NULL,
    creator      TEXT    NOT NULL,
    created_from TEXT    NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (message_id, period, state, code_set, result_code, creator, created_from)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS jobs_messages_insert AFTER INSERT ON jobs WHEN new.state = 2 BEGIN
    INSERT INTO job_messages (text, n) VALUES (IFNULL(new.result_msg, ''), 1)
    ON CONFLICT (text) DO UPDATE SET n = n + 1;
    INSERT INTO job_message_sums
        (message_id, period, state, code_set, result_code, creator, created_from, n)
    SELECT m.id, p.period, new.state, new.result_code IS NOT NULL,
           IFNULL(new.result_code, -1), IFNULL(new.creator, ''), IFNULL(new.created_from, ''), 1
    FROM (SELECT 'A' AS period UNION ALL SELECT 'M' || substr(new.create_time, 1, 7)
          UNION ALL SELECT 'D' || substr(new.create_time, 1, 10)) p, job_messages m
    WHERE m.text = IFNULL(new.result_msg, '')
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER IF NOT EXISTS jobs_messages_delete AFTER DELETE ON jobs WHEN old.state = 2 BEGIN
    UPDATE job_message_sums SET n = n - 1
    WHERE message_id = (SELECT id FROM job_messages WHERE text = IFNULL(old.result_msg, ''))
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '');
    DELETE FROM job_message_sums
    WHERE message_id = (SELECT id FROM job_messages WHERE text = IFNULL(old.result_msg, ''))
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '') AND n <= 0;
    UPDATE job_messages SET n = n - 1 WHERE text = IFNULL(old.result_msg, '');
    DELETE FROM job_messages WHERE text = IFNULL(old.result_msg, '') AND n <= 0;
END;

-- The store's counts know no project: moving a job between projects leaves them as they are.
CREATE TRIGGER IF NOT EXISTS jobs_messages_update_old
AFTER UPDATE OF state, result_code, creator, created_from, result_msg, create_time ON jobs
WHEN old.state = 2
  AND (old.state IS NOT new.state OR old.result_code IS NOT new.result_code
       OR old.creator IS NOT new.creator OR old.created_from IS NOT new.created_from
       OR old.result_msg IS NOT new.result_msg OR old.create_time IS NOT new.create_time)
BEGIN
    UPDATE job_message_sums SET n = n - 1
    WHERE message_id = (SELECT id FROM job_messages WHERE text = IFNULL(old.result_msg, ''))
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '');
    DELETE FROM job_message_sums
    WHERE message_id = (SELECT id FROM job_messages WHERE text = IFNULL(old.result_msg, ''))
      AND period IN ('A', 'M' || substr(old.create_time, 1, 7), 'D' || substr(old.create_time, 1, 10))
      AND state = old.state AND code_set = (old.result_code IS NOT NULL)
      AND result_code = IFNULL(old.result_code, -1) AND creator = IFNULL(old.creator, '')
      AND created_from = IFNULL(old.created_from, '') AND n <= 0;
    UPDATE job_messages SET n = n - 1 WHERE text = IFNULL(old.result_msg, '');
    DELETE FROM job_messages WHERE text = IFNULL(old.result_msg, '') AND n <= 0;
END;

CREATE TRIGGER IF NOT EXISTS jobs_messages_update_new
AFTER UPDATE OF state, result_code, creator, created_from, result_msg, create_time ON jobs
WHEN new.state = 2
  AND (old.state IS NOT new.state OR old.result_code IS NOT new.result_code
       OR old.creator IS NOT new.creator OR old.created_from IS NOT new.created_from
       OR old.result_msg IS NOT new.result_msg OR old.create_time IS NOT new.create_time)
BEGIN
    INSERT INTO job_messages (text, n) VALUES (IFNULL(new.result_msg, ''), 1)
    ON CONFLICT (text) DO UPDATE SET n = n + 1;
    INSERT INTO job_message_sums
        (message_id, period, state, code_set, result_code, creator, created_from, n)
    SELECT m.id, p.period, new.state, new.result_code IS NOT NULL,
           IFNULL(new.result_code, -1), IFNULL(new.creator, ''), IFNULL(new.created_from, ''), 1
    FROM (SELECT 'A' AS period UNION ALL SELECT 'M' || substr(new.create_time, 1, 7)
          UNION ALL SELECT 'D' || substr(new.create_time, 1, 10)) p, job_messages m
    WHERE m.text = IFNULL(new.result_msg, '')
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- Finding counts kept by triggers (issue 9), as `job_tallies` for jobs: one row per project and
-- combination of the findings list's tallied filters (state, severity, resolution, author, rule),
-- NULL author as ''. Exact under every INSERT, UPDATE and DELETE of `issues`; rows at 0 go.
CREATE TABLE IF NOT EXISTS issue_tallies (
    project_id INTEGER NOT NULL,
    state      INTEGER NOT NULL,
    severity   INTEGER NOT NULL,
    resolution INTEGER NOT NULL,
    author     TEXT    NOT NULL,
    rule       TEXT    NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (project_id, state, severity, resolution, author, rule)
) WITHOUT ROWID;
-- The findings list newest first. Its `scan_open`/`scan_fix` filters use `issues_scan_open` and
-- `issues_scan_fix` (a scan belongs to one project, so the project adds nothing to those keys).
CREATE INDEX IF NOT EXISTS issues_project_id ON issues (project_id, id);

-- A bulk insert of findings (`db::findings::record`) holds a row here, inside its own
-- transaction, while it inserts a scan's new findings and sightings: the insert triggers of
-- `issues` and `job_issues` then leave `issue_tallies`, `issue_paths`, `issue_scan_tallies` and
-- `job_issue_tallies` to it, and it adds the whole scan's counts in a few grouped statements
-- instead of four upserts per finding. No row outlives those statements, so every other writer
-- is counted by the triggers.
CREATE TABLE IF NOT EXISTS tally_deferrals (
    id INTEGER PRIMARY KEY CHECK (id = 1)
);

CREATE TRIGGER IF NOT EXISTS issues_tally_insert AFTER INSERT ON issues
WHEN NOT EXISTS (SELECT 1 FROM tally_deferrals)
BEGIN
    INSERT INTO issue_tallies (project_id, state, severity, resolution, author, rule, n)
    VALUES (new.project_id, new.state, new.severity, new.resolution, IFNULL(new.author, ''),
            new.rule, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER IF NOT EXISTS issues_tally_delete AFTER DELETE ON issues BEGIN
    UPDATE issue_tallies SET n = n - 1
    WHERE project_id = old.project_id AND state = old.state AND severity = old.severity
      AND resolution = old.resolution AND author = IFNULL(old.author, '') AND rule = old.rule;
    DELETE FROM issue_tallies
    WHERE project_id = old.project_id AND state = old.state AND severity = old.severity
      AND resolution = old.resolution AND author = IFNULL(old.author, '') AND rule = old.rule
      AND n <= 0;
END;

CREATE TRIGGER IF NOT EXISTS issues_tally_update
AFTER UPDATE OF project_id, state, severity, resolution, author, rule ON issues
WHEN old.project_id IS NOT new.project_id OR old.state IS NOT new.state
  OR old.severity IS NOT new.severity OR old.resolution IS NOT new.resolution
  OR old.author IS NOT new.author OR old.rule IS NOT new.rule
BEGIN
    UPDATE issue_tallies SET n = n - 1
    WHERE project_id = old.project_id AND state = old.state AND severity = old.severity
      AND resolution = old.resolution AND author = IFNULL(old.author, '') AND rule = old.rule;
    DELETE FROM issue_tallies
    WHERE project_id = old.project_id AND state = old.state AND severity = old.severity
      AND resolution = old.resolution AND author = IFNULL(old.author, '') AND rule = old.rule
      AND n <= 0;
    INSERT INTO issue_tallies (project_id, state, severity, resolution, author, rule, n)
    VALUES (new.project_id, new.state, new.severity, new.resolution, IFNULL(new.author, ''),
            new.rule, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
-- The findings list's key filters (issue 9): findings per project and file path (a `file_path`
-- substring is matched against the project's distinct paths, not every finding), per scan that
-- opened or fixed them (`fixed` 0: `scan_open`, 1: `scan_fix`), and per job that saw them and
-- project of the finding (`job_issues`). Kept exact by the triggers below under every INSERT,
-- UPDATE and DELETE of `issues` and `job_issues` (which is written with upserts: REPLACE's
-- implicit delete fires no trigger); rows at 0 go.
CREATE TABLE IF NOT EXISTS issue_paths (
    project_id INTEGER NOT NULL,
    path       TEXT    NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (project_id, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS issue_scan_tallies (
    scan_id    INTEGER NOT NULL,
    fixed      INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (scan_id, fixed, project_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS job_issue_tallies (
    job_id     INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (job_id, project_id)
) WITHOUT ROWID;
-- A `file_path` substring with the tallied filters: each `issue_tallies` row the other filters
-- keep is one range of this index, whose paths are read without touching the findings.
CREATE INDEX IF NOT EXISTS issues_tally_path
    ON issues (project_id, state, severity, resolution, author, rule, path);

CREATE TRIGGER IF NOT EXISTS issues_keys_insert AFTER INSERT ON issues
WHEN NOT EXISTS (SELECT 1 FROM tally_deferrals)
BEGIN
    INSERT INTO issue_paths (project_id, path, n) VALUES (new.project_id, new.path, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO issue_scan_tallies (scan_id, fixed, project_id, n)
    SELECT scan_id, fixed, new.project_id, 1
    FROM (SELECT new.scan_open AS scan_id, 0 AS fixed UNION ALL SELECT new.scan_fix, 1)
    WHERE scan_id IS NOT NULL
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER IF NOT EXISTS issues_keys_delete AFTER DELETE ON issues BEGIN
    UPDATE issue_paths SET n = n - 1 WHERE project_id = old.project_id AND path = old.path;
    DELETE FROM issue_paths WHERE project_id = old.project_id AND path = old.path AND n <= 0;
    UPDATE issue_scan_tallies SET n = n - 1
    WHERE project_id = old.project_id
      AND ((fixed = 0 AND scan_id = old.scan_open) OR (fixed = 1 AND scan_id = old.scan_fix));
    DELETE FROM issue_scan_tallies
    WHERE project_id = old.project_id AND n <= 0
      AND ((fixed = 0 AND scan_id = old.scan_open) OR (fixed = 1 AND scan_id = old.scan_fix));
END;

CREATE TRIGGER IF NOT EXISTS issues_paths_update AFTER UPDATE OF project_id, path ON issues
WHEN old.project_id IS NOT new.project_id OR old.path IS NOT new.path
BEGIN
    UPDATE issue_paths SET n = n - 1 WHERE project_id = old.project_id AND path = old.path;
    DELETE FROM issue_paths WHERE project_id = old.project_id AND path = old.path AND n <= 0;
    INSERT INTO issue_paths (project_id, path, n) VALUES (new.project_id, new.path, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- A fix sets `scan_fix` and a reopen clears it: the common updates of these columns.
CREATE TRIGGER IF NOT EXISTS issues_scans_update
AFTER UPDATE OF project_id, scan_open, scan_fix ON issues
WHEN old.project_id IS NOT new.project_id OR old.scan_open IS NOT new.scan_open
  OR old.scan_fix IS NOT new.scan_fix
BEGIN
    UPDATE issue_scan_tallies SET n = n - 1
    WHERE project_id = old.project_id
      AND ((fixed = 0 AND scan_id = old.scan_open) OR (fixed = 1 AND scan_id = old.scan_fix));
    DELETE FROM issue_scan_tallies
    WHERE project_id = old.project_id AND n <= 0
      AND ((fixed = 0 AND scan_id = old.scan_open) OR (fixed = 1 AND scan_id = old.scan_fix));
    INSERT INTO issue_scan_tallies (scan_id, fixed, project_id, n)
    SELECT scan_id, fixed, new.project_id, 1
    FROM (SELECT new.scan_open AS scan_id, 0 AS fixed UNION ALL SELECT new.scan_fix, 1)
    WHERE scan_id IS NOT NULL
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- A sighting counts for its job and its finding's project (a finding is not deleted while
-- sightings name it: the foreign key).
CREATE TRIGGER IF NOT EXISTS job_issues_tally_insert AFTER INSERT ON job_issues
WHEN NOT EXISTS (SELECT 1 FROM tally_deferrals)
BEGIN
    INSERT INTO job_issue_tallies (job_id, project_id, n)
    SELECT new.job_id, project_id, 1 FROM issues WHERE id = new.issue_id
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER IF NOT EXISTS job_issues_tally_delete AFTER DELETE ON job_issues BEGIN
    UPDATE job_issue_tallies SET n = n - 1
    WHERE job_id = old.job_id
      AND project_id = (SELECT project_id FROM issues WHERE id = old.issue_id);
    DELETE FROM job_issue_tallies
    WHERE job_id = old.job_id
      AND project_id = (SELECT project_id FROM issues WHERE id = old.issue_id) AND n <= 0;
END;

CREATE TRIGGER IF NOT EXISTS job_issues_tally_update AFTER UPDATE OF job_id, issue_id ON job_issues
WHEN old.job_id IS NOT new.job_id OR old.issue_id IS NOT new.issue_id
BEGIN
    UPDATE job_issue_tallies SET n = n - 1
    WHERE job_id = old.job_id
      AND project_id = (SELECT project_id FROM issues WHERE id = old.issue_id);
    DELETE FROM job_issue_tallies
    WHERE job_id = old.job_id
      AND project_id = (SELECT project_id FROM issues WHERE id = old.issue_id) AND n <= 0;
    INSERT INTO job_issue_tallies (job_id, project_id, n)
    SELECT new.job_id, project_id, 1 FROM issues WHERE id = new.issue_id
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
-- A finding moved to another project (codepup never does; any writer may) takes its sightings'
-- counts along.
CREATE TRIGGER IF NOT EXISTS issues_project_sightings AFTER UPDATE OF project_id ON issues
WHEN old.project_id IS NOT new.project_id
BEGIN
    UPDATE job_issue_tallies SET n = n - 1
    WHERE project_id = old.project_id
      AND job_id IN (SELECT job_id FROM job_issues WHERE issue_id = new.id);
    DELETE FROM job_issue_tallies
    WHERE project_id = old.project_id AND n <= 0
      AND job_id IN (SELECT job_id FROM job_issues WHERE issue_id = new.id);
    INSERT INTO job_issue_tallies (job_id, project_id, n)
    SELECT job_id, new.project_id, 1 FROM job_issues WHERE issue_id = new.id
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
-- Code metrics (issue 11). A job that measured complexity (lizard): its threshold and totals,
-- TCA's CyclomaticComplexityScan.
CREATE TABLE IF NOT EXISTS cc_scans (
    job_id            INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    project_id        INTEGER NOT NULL REFERENCES projects (id),
    threshold         INTEGER NOT NULL,
    cc_open_num       INTEGER NOT NULL,  -- functions over the threshold
    diff_cc_num       INTEGER NOT NULL,  -- of them, new or more complex than last measured
    cc_fix_num        INTEGER NOT NULL,  -- over the threshold before, no longer
    worse_cc_file_num INTEGER NOT NULL,
    func_num          INTEGER NOT NULL,  -- functions measured
    ccn_sum           INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS cc_scans_project ON cc_scans (project_id, job_id);
-- The project's functions as last measured, all of them: what `diff_ccn` and `change_type`
-- compare with, and what an incremental scan keeps for the files it did not change.
CREATE TABLE IF NOT EXISTS cc_functions (
    project_id     INTEGER NOT NULL REFERENCES projects (id),
    file_path      TEXT    NOT NULL,
    func_name      TEXT    NOT NULL,
    long_name      TEXT    NOT NULL,
    func_param_num INTEGER NOT NULL,
    ccn            INTEGER NOT NULL,
    code_line_num  INTEGER NOT NULL,
    token          INTEGER NOT NULL,
    line_num       INTEGER NOT NULL,
    start_line_no  INTEGER NOT NULL,
    end_line_no    INTEGER NOT NULL,
    language       TEXT
);
CREATE INDEX IF NOT EXISTS cc_functions_project ON cc_functions (project_id, file_path);
-- Per job: each file with functions over the threshold (TCA's CyclomaticComplexityFile) ...
CREATE TABLE IF NOT EXISTS cc_files (
    id                      INTEGER PRIMARY KEY,
    job_id                  INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    project_id              INTEGER NOT NULL REFERENCES projects (id),
    file_path               TEXT    NOT NULL,
    language                TEXT,
    over_func_cc            INTEGER NOT NULL,
    over_cc_sum             INTEGER NOT NULL,
    over_cc_avg             INTEGER NOT NULL,
    over_cc_func_count      INTEGER NOT NULL,
    diff_over_func_cc       INTEGER NOT NULL,
    diff_over_cc_sum        INTEGER NOT NULL,
    diff_over_cc_avg        INTEGER NOT NULL,
    diff_over_cc_func_count INTEGER NOT NULL,
    worse                   INTEGER NOT NULL CHECK (worse IN (0, 1)),
    change_type             INTEGER NOT NULL,
    revision                TEXT    NOT NULL,
    created_time            TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS cc_files_job ON cc_files (job_id, file_path);
-- ... and each function over the threshold (TCA's CyclomaticComplexity).
CREATE TABLE IF NOT EXISTS cc_issues (
    id             INTEGER PRIMARY KEY,
    cc_file_id     INTEGER NOT NULL REFERENCES cc_files (id) ON DELETE CASCADE,
    job_id         INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    project_id     INTEGER NOT NULL REFERENCES projects (id),
    file_path      TEXT    NOT NULL,
    func_name      TEXT    NOT NULL,
    long_name      TEXT    NOT NULL,
    func_param_num INTEGER NOT NULL,
    ccn            INTEGER NOT NULL,
    diff_ccn       INTEGER,
    change_type    INTEGER NOT NULL,
    language       TEXT,
    token          INTEGER NOT NULL,
    line_num       INTEGER NOT NULL,
    code_line_num  INTEGER NOT NULL,
    start_line_no  INTEGER NOT NULL,
    end_line_no    INTEGER NOT NULL,
    revision       TEXT    NOT NULL,
    created_time   TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS cc_issues_job ON cc_issues (job_id, cc_file_id);
-- A job that looked for duplicate code (jscpd): TCA's DuplicateScan.
CREATE TABLE IF NOT EXISTS dup_scans (
    job_id                INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    project_id            INTEGER NOT NULL REFERENCES projects (id),
    duplicate_file_count  INTEGER NOT NULL,
    duplicate_block_count INTEGER NOT NULL,
    duplicate_line_count  INTEGER NOT NULL,
    total_line_count      INTEGER NOT NULL,
    duplicate_rate        REAL    NOT NULL  -- percent
);
CREATE INDEX IF NOT EXISTS dup_scans_project ON dup_scans (project_id, job_id);
-- Per job: each file with copies in it (TCA's DuplicateFile) and its blocks (DuplicateBlock).
CREATE TABLE IF NOT EXISTS dup_files (
    id                         INTEGER PRIMARY KEY,
    job_id                     INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    project_id                 INTEGER NOT NULL REFERENCES projects (id),
    file_path                  TEXT    NOT NULL,
    language                   TEXT    NOT NULL,
    duplicate_rate             REAL    NOT NULL,
    total_line_count           INTEGER NOT NULL,
    total_duplicate_line_count INTEGER NOT NULL,
    distinct_hash_num          INTEGER NOT NULL,
    block_num                  INTEGER NOT NULL,
    change_type                TEXT,  -- 'add' (no copies at the last look), 'mod', or null
    revision                   TEXT    NOT NULL,
    created_time               TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS dup_files_job ON dup_files (job_id, file_path);
CREATE TABLE IF NOT EXISTS dup_blocks (
    id                   INTEGER PRIMARY KEY,
    dup_file_id          INTEGER NOT NULL REFERENCES dup_files (id) ON DELETE CASCADE,
    job_id               INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    project_id           INTEGER NOT NULL REFERENCES projects (id),
    block_hash           TEXT    NOT NULL,
    token_num            INTEGER NOT NULL,
    duplicate_times      INTEGER NOT NULL,
    duplicate_rate       REAL    NOT NULL,
    start_line_num       INTEGER NOT NULL,
    end_line_num         INTEGER NOT NULL,
    duplicate_line_count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dup_blocks_file ON dup_blocks (dup_file_id, start_line_num);

-- Triage of complexity findings (TCA's `ccissues/status/` and `ccissues/<id>/author/`): a
-- function's status (1 needs attention, 2 needs none) and author, set by a person, keyed by
-- the function (file and signature) so that later measures of it keep them. Schema 14.
CREATE TABLE IF NOT EXISTS cc_issue_marks (
    project_id    INTEGER NOT NULL REFERENCES projects (id),
    file_path     TEXT    NOT NULL,
    long_name     TEXT    NOT NULL,
    status        INTEGER NOT NULL DEFAULT 1 CHECK (status IN (1, 2)),
    author        TEXT,
    modifier      TEXT    NOT NULL,
    modified_time TEXT    NOT NULL,
    PRIMARY KEY (project_id, file_path, long_name)
) WITHOUT ROWID;

-- Duplicate-code issues (TCA's DuplicateIssue): one per project and file that has had copies,
-- made by the duplicate-code run that first finds copies in it. state: 1 open (未处理), 2
-- ignored (可忽略), 3 closed (关闭). A run closes the open issues of files without copies and
-- reopens closed ones whose file has copies again; an ignored issue stays ignored. Schema 14.
CREATE TABLE IF NOT EXISTS dup_issues (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    file_path  TEXT    NOT NULL,
    state      INTEGER NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 3)),
    owner      TEXT,
    UNIQUE (project_id, file_path)
);
-- Who changed a duplicate-code issue, when and how (TCA's DuplicateIssueComment).
CREATE TABLE IF NOT EXISTS dup_issue_comments (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects (id),
    issue_id     INTEGER NOT NULL REFERENCES dup_issues (id),
    action       TEXT    NOT NULL,
    message      TEXT,
    created_time TEXT    NOT NULL,
    creator      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS dup_issue_comments_issue ON dup_issue_comments (issue_id, id);

-- The template that runs everything: lint (the built-in checker), complexity and duplicates.
INSERT INTO scan_schemes
    (repo_id, name, description, lint_enabled, cc_scan_enabled, dup_scan_enabled, tools, cloc_scan_enabled, created_from, created_time)
SELECT NULL, 'full', 'line counting, the built-in checker, cyclomatic complexity (lizard) and duplicate code (jscpd)',
       1, 1, 1, '["codepup"]', 1, 'codepup', '1970-01-01T00:00:00.000000Z'
WHERE NOT EXISTS (SELECT 1 FROM scan_schemes WHERE repo_id IS NULL AND name = 'full');

-- Retention (issue 9) deletes jobs: SQLite then looks up every row that refers to a deleted
-- row (the foreign key check, ON DELETE CASCADE), through an index on the referring column or
-- else by reading the whole table, once per deleted row. These columns had none.
CREATE INDEX IF NOT EXISTS project_schedules_last_job ON project_schedules (last_job_id);
CREATE INDEX IF NOT EXISTS notify_deliveries_job ON notify_deliveries (job_id);
CREATE INDEX IF NOT EXISTS notify_deliveries_redelivery ON notify_deliveries (redelivery_of);
CREATE INDEX IF NOT EXISTS dup_blocks_job ON dup_blocks (job_id);
CREATE INDEX IF NOT EXISTS cc_issues_file ON cc_issues (cc_file_id);

-- The status page's trends (issue 11): per job that recorded lint findings, how its close
-- changed them and how many stayed open by severity (1 fatal .. 4 info) right after it, written
-- in the close transaction (`db::trends::record_lint`), so a project's series is read from one
-- row per job instead of being recounted from its findings.
CREATE TABLE IF NOT EXISTS job_lint_counts (
    job_id       INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    project_id   INTEGER NOT NULL REFERENCES projects (id),
    opened       INTEGER NOT NULL,
    reopened     INTEGER NOT NULL,
    fixed        INTEGER NOT NULL,
    open_fatal   INTEGER NOT NULL,
    open_error   INTEGER NOT NULL,
    open_warning INTEGER NOT NULL,
    open_info    INTEGER NOT NULL
);
