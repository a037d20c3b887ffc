//! The `user` and `token` subcommands: they write the database directly, so they work with or
//! without a server running on the same data directory (WAL and a busy timeout make that safe).

use anyhow::{bail, Context};

use crate::config::{db_path_in, DataDirArg, TokenCommand, UserCommand};
use crate::db;
use crate::domain::user;

/// Creates a user and returns their new token.
pub fn create_user(command: UserCommand) -> anyhow::Result<String> {
    let UserCommand::Create {
        name,
        nickname,
        superuser,
        data,
    } = command;
    user::check_username(&name)
        .map_err(|message| anyhow::anyhow!("username {name:?}: {message}"))?;
    let conn = open(&data)?;
    if db::users::get_by_username(&conn, &name)?.is_some() {
        bail!("user {name} already exists; use `codepup token rotate {name}` for a new token");
    }
    let token = user::new_token();
    let nickname = nickname.unwrap_or_else(|| name.clone());
    db::users::insert(&conn, &name, &nickname, superuser, &user::digest(&token))
        .with_context(|| format!("creating user {name}"))?;
    Ok(token)
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
