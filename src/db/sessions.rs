//! SQL for sign-in sessions: the tokens password sign-in hands out, kept as users' tokens are.

use rusqlite::{params, Connection};

use crate::clock;
use crate::domain::ids::UserId;
use crate::domain::user::{self, TokenDigest, User};

/// Stores a session for `user_id` that stops working at `expires_time` (stored form), and deletes
/// the sessions that have expired, so the table holds only live ones.
pub fn insert(
    conn: &Connection,
    user_id: UserId,
    token: &TokenDigest,
    expires_time: &str,
) -> rusqlite::Result<()> {
    let now = clock::now_stored();
    conn.execute(
        "DELETE FROM sessions WHERE expires_time <= ?1",
        params![now],
    )?;
    conn.execute(
        "INSERT INTO sessions (user_id, token_prefix, token_hash, created_time, expires_time)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user_id.0, token.prefix, token.hash, now, expires_time],
    )?;
    Ok(())
}

/// The user whose unexpired session `token` is, if any: candidates by the clear prefix, then
/// the whole token against each one's hash in constant time.
pub fn find_user(conn: &Connection, token: &str) -> rusqlite::Result<Option<User>> {
    let prefix = user::digest(token).prefix;
    let mut stmt = conn.prepare_cached(
        "SELECT s.token_hash, u.id, u.username, u.nickname, u.is_superuser, u.is_active
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_prefix = ?1 AND s.expires_time > ?2",
    )?;
    let mut rows = stmt.query(params![prefix, clock::now_stored()])?;
    while let Some(row) = rows.next()? {
        let hash: Vec<u8> = row.get(0)?;
        if user::token_matches(token, &hash) {
            return Ok(Some(User {
                id: UserId(row.get(1)?),
                username: row.get(2)?,
                nickname: row.get(3)?,
                is_superuser: row.get(4)?,
                is_active: row.get(5)?,
            }));
        }
    }
    Ok(None)
}

/// Ends every session of a user (after a password change).
pub fn delete_for_user(conn: &Connection, user_id: UserId) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM sessions WHERE user_id = ?1",
        params![user_id.0],
    )
}
