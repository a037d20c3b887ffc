//! The `user` and `token` subcommands: they write the database directly, so they work with or
//! without a server running on the same data directory (WAL and a busy timeout make that safe).

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context};

use crate::config::{db_path_in, DataDirArg, TokenCommand, UserCommand};
use crate::db;
use crate::domain::ids::{JobId, TaskId};
use crate::domain::user;

/// Runs a `user` subcommand: `create` returns the new user's token, `password` a confirmation.
pub fn user_command(command: UserCommand, stdin: impl BufRead) -> anyhow::Result<String> {
    match command {
        UserCommand::Create {
            name,
            nickname,
            superuser,
            password,
            data,
        } => {
            let password = password.then(|| read_password(stdin)).transpose()?;
            create_user(&name, nickname, superuser, password, &data)
        }
        UserCommand::Password { name, data } => set_password(&name, read_password(stdin)?, &data),
    }
}

/// Creates a user (with a password when given) and returns their new token.
fn create_user(
    name: &str,
    nickname: Option<String>,
    superuser: bool,
    password: Option<String>,
    data: &DataDirArg,
) -> anyhow::Result<String> {
    user::check_username(name)
        .map_err(|message| anyhow::anyhow!("username {name:?}: {message}"))?;
    let mut conn = open(data)?;
    if db::users::get_by_username(&conn, name)?.is_some() {
        bail!("user {name} already exists; use `codepup token rotate {name}` for a new token");
    }
    let token = user::new_token();
    let nickname = nickname.unwrap_or_else(|| name.to_string());
    let password_hash = password.as_deref().map(user::hash_password);
    let tx = db::begin(&mut conn)?;
    let created = db::users::insert(&tx, name, &nickname, superuser, &user::digest(&token))
        .with_context(|| format!("creating user {name}"))?;
    db::users::set_password(&tx, created.id, password_hash.as_deref())?;
    tx.commit()?;
    Ok(token)
}

/// Sets a user's password and ends their sign-in sessions.
fn set_password(name: &str, password: String, data: &DataDirArg) -> anyhow::Result<String> {
    let mut conn = open(data)?;
    let Some(found) = db::users::get_by_username(&conn, name)? else {
        bail!("there is no user {name}");
    };
    let hash = user::hash_password(&password);
    let tx = db::begin(&mut conn)?;
    db::users::set_password(&tx, found.id, Some(&hash))?;
    let ended = db::sessions::delete_for_user(&tx, found.id)?;
    tx.commit()?;
    Ok(format!(
        "password of {name} set; {ended} sign-in session(s) ended"
    ))
}

/// One line of standard input, without its line end, checked as the API checks passwords.
fn read_password(mut stdin: impl BufRead) -> anyhow::Result<String> {
    let mut line = String::new();
    stdin
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    user::check_password_shape(&password).map_err(|message| anyhow::anyhow!("{message}"))?;
    Ok(password)
}

/// Replaces a user's token and returns the new one.
pub fn rotate_token(command: TokenCommand) -> anyhow::Result<String> {
    let TokenCommand::Rotate { name, data } = command;
    let conn = open(&data)?;
    let Some(found) = db::users::get_by_username(&conn, &name)? else {
        bail!("there is no user {name}");
    };
    let token = user::new_token();
    db::users::set_token(&conn, found.id, &user::digest(&token))?;
    Ok(token)
}

fn open(data: &DataDirArg) -> anyhow::Result<rusqlite::Connection> {
    std::fs::create_dir_all(&data.data_dir)
        .with_context(|| format!("creating {}", data.data_dir.display()))?;
    db::open_single(&db_path_in(&data.data_dir))
}

/// Copies the database to `file` with SQLite's online backup: a consistent snapshot, taken a
/// few pages at a time so a running server's writers wait at most a moment. Refuses to replace
/// an existing file.
pub fn backup(file: &Path, data: &DataDirArg) -> anyhow::Result<String> {
    if file.exists() {
        bail!("{} exists; choose a new file", file.display());
    }
    let source = open(data)?;
    let partial = file.with_extension("partial");
    let mut target = rusqlite::Connection::open(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut target)?;
        backup
            .run_to_completion(256, std::time::Duration::from_millis(5), None)
            .context("copying the database")?;
    }
    drop(target);
    std::fs::rename(&partial, file).with_context(|| format!("writing {}", file.display()))?;
    let pages: i64 =
        rusqlite::Connection::open(file)?.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    Ok(format!("backed up {pages} pages to {}", file.display()))
}

/// `codepup prune [--dry-run]`: one retention pass now (or its counts), with the settings the
/// server would use; safe while a server runs on the same data directory.
pub fn prune(
    dry_run: bool,
    data: &DataDirArg,
    retention: &crate::config::RetentionArgs,
) -> anyhow::Result<crate::retention::Report> {
    let retention = crate::config::Retention::from_args(retention).map_err(anyhow::Error::msg)?;
    let mut conn = open(data)?;
    let paths = crate::retention::Paths::in_data_dir(&data.data_dir);
    crate::retention::run_pass(
        &mut conn,
        &paths,
        &retention,
        time::OffsetDateTime::now_utc(),
        dry_run,
    )
}

/// What `codepup check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub problems: Vec<String>,
    pub jobs: i64,
    pub logs_checked: usize,
}

/// Checks the database's integrity and foreign keys, and that the log of every closed job that
/// ran and of every task that started is on disk.
pub fn check(data: &DataDirArg) -> anyhow::Result<CheckReport> {
    let conn = open(data)?;
    let mut report = CheckReport::default();
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    if integrity != ["ok"] {
        report.problems.extend(
            integrity
                .into_iter()
                .map(|line| format!("integrity: {line}")),
        );
    }
    let broken: Vec<(String, i64, String)> = conn
        .prepare("PRAGMA foreign_key_check")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (table, rowid, parent) in broken {
        report.problems.push(format!(
            "foreign key: {table} row {rowid} points to a missing {parent}"
        ));
    }
    report.jobs = conn.query_row("SELECT COUNT(*) FROM jobs", [], |row| row.get(0))?;
    let logs = crate::config::logs_dir_in(&data.data_dir);
    let mut expected: Vec<std::path::PathBuf> = Vec::new();
    let mut jobs =
        conn.prepare("SELECT id FROM jobs WHERE start_time IS NOT NULL AND state = 2 AND log_removed_time IS NULL")?;
    for job in jobs.query_map([], |row| row.get::<_, i64>(0))? {
        expected.push(crate::scan::job_log_path(&logs, JobId(job?)));
    }
    let mut tasks = conn.prepare(
        "SELECT t.job_id, t.id FROM tasks t JOIN jobs j ON j.id = t.job_id
         WHERE t.start_time IS NOT NULL AND j.log_removed_time IS NULL",
    )?;
    for row in tasks.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))? {
        let (job, task) = row?;
        expected.push(crate::scan::task_log_path(&logs, JobId(job), TaskId(task)));
    }
    report.logs_checked = expected.len();
    for path in expected.iter().filter(|path| !path.is_file()) {
        report
            .problems
            .push(format!("missing log {}", path.display()));
    }
    Ok(report)
}
