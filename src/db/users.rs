//! SQL for users and their tokens.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock;
use crate::db;
use crate::domain::ids::UserId;
use crate::domain::user::{self, TokenDigest, User};

const COLUMNS: &str = "id, username, nickname, is_superuser, is_active";

fn from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(row.get(0)?),
        username: row.get(1)?,
        nickname: row.get(2)?,
        is_superuser: row.get(3)?,
        is_active: row.get(4)?,
    })
}

pub fn insert(
    conn: &Connection,
    username: &str,
    nickname: &str,
    is_superuser: bool,
    token: &TokenDigest,
) -> rusqlite::Result<User> {
    let now = clock::now_stored();
    conn.execute(
        "INSERT INTO users (username, nickname, is_superuser, token_prefix, token_hash, token_created_time, created_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![username, nickname, is_superuser, token.prefix, token.hash, now],
    )?;
    Ok(User {
        id: UserId(conn.last_insert_rowid()),
        username: username.to_string(),
        nickname: nickname.to_string(),
        is_superuser,
        is_active: true,
    })
}

pub fn count(conn: &Connection) -> rusqlite::Result<i64> {
    db::query_row(conn, "SELECT COUNT(*) FROM users", [], |row| row.get(0))
}

/// The user holding `token`, if any. Rows are found by the token's clear prefix; the whole token is
/// then checked against each candidate's hash in constant time.
pub fn find_by_token(conn: &Connection, token: &str) -> rusqlite::Result<Option<User>> {
    let prefix = user::digest(token).prefix;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, token_hash FROM users WHERE token_prefix = ?1"
    ))?;
    let mut rows = stmt.query(params![prefix])?;
    while let Some(row) = rows.next()? {
        let hash: Vec<u8> = row.get(5)?;
        if user::token_matches(token, &hash) {
            return from_row(row).map(Some);
        }
    }
    Ok(None)
}

pub fn get_by_username(conn: &Connection, username: &str) -> rusqlite::Result<Option<User>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} FROM users WHERE username = ?1"),
        params![username],
        from_row,
    )
    .optional()
}

/// Replaces a user's token. Returns false when no such user exists.
pub fn set_token(
    conn: &Connection,
    user_id: UserId,
    token: &TokenDigest,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE users SET token_prefix = ?2, token_hash = ?3, token_created_time = ?4 WHERE id = ?1",
        params![user_id.0, token.prefix, token.hash, clock::now_stored()],
    )?;
    Ok(changed == 1)
}

/// A short description of a user, as nested in other records.
pub fn summary(conn: &Connection, user_id: UserId) -> rusqlite::Result<Option<User>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
        params![user_id.0],
        from_row,
    )
    .optional()
}

/// Sets (or with `None` removes) a user's password hash. Returns false when no such user exists.
pub fn set_password(
    conn: &Connection,
    user_id: UserId,
    password_hash: Option<&str>,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id.0, password_hash],
    )?;
    Ok(changed == 1)
}

/// The user of that name with their password hash (`None` when they have no password).
pub fn get_with_password(
    conn: &Connection,
    username: &str,
) -> rusqlite::Result<Option<(User, Option<String>)>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS}, password_hash FROM users WHERE username = ?1"),
        params![username],
        |row| Ok((from_row(row)?, row.get(5)?)),
    )
    .optional()
}

/// Changes a user's nickname.
pub fn set_nickname(conn: &Connection, user_id: UserId, nickname: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET nickname = ?2 WHERE id = ?1",
        params![user_id.0, nickname],
    )?;
    Ok(())
}
