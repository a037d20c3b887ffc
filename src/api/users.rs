//! Users and tokens: `v3/users/`, `v3/authen/userinfo/` and its `token/`.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::api::blocking;
use crate::api::{require, views};
use crate::auth::Caller;
use crate::body::Body;
use crate::db;
use crate::domain::user;
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

pub async fn create_user(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    body: Body,
) -> Result<HttpResponse, AppError> {
    require(caller.is_superuser)?;
    let body = body.fields()?;
    let mut fields = body.reader();
    let username = fields.required_str("username", 150);
    if !username.is_empty() {
        if let Err(message) = user::check_username(&username) {
            fields.reject("username", message);
        }
    }
    let nickname = fields
        .optional_str("nickname", 64)
        .filter(|n| !n.is_empty());
    let is_superuser = fields.optional_bool("is_superuser").unwrap_or(false);
    let password = fields.optional_str("password", user::PASSWORD_MAX_CHARS);
    if let Some(Err(message)) = password.as_deref().map(user::check_password_shape) {
        fields.reject("password", message);
    }
    fields.finish()?;
    let nickname = nickname.unwrap_or_else(|| username.clone());
    let token = user::new_token();
    let digest = user::digest(&token);
    let has_password = password.is_some();
    let password_hash = match password {
        Some(password) => Some(web::block(move || user::hash_password(&password)).await?),
        None => None,
    };
    let created = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let created = db::users::insert(&tx, &username, &nickname, is_superuser, &digest).map_err(
            |error| {
                if db::is_unique_violation(&error) {
                    AppError::invalid("username", "A user with that username already exists.")
                } else {
                    error.into()
                }
            },
        )?;
        db::users::set_password(&tx, created.id, password_hash.as_deref())?;
        tx.commit()?;
        Ok(created)
    })
    .await?;
    log::info!("user {} created by {}", created.username, caller.username);
    Ok(envelope::created(json!({
        "username": created.username,
        "nickname": created.nickname,
        "is_superuser": created.is_superuser,
        "has_password": has_password,
        "token": token,
    })))
}

pub async fn get_userinfo(Caller(caller): Caller) -> HttpResponse {
    envelope::ok(views::user(&caller))
}

/// Replaces the caller's token; the old one stops working at once. The new one is shown only here.
pub async fn rotate_token(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let token = user::new_token();
    let digest = user::digest(&token);
    let user_id = caller.id;
    blocking::run(&state.pool, move |conn| {
        Ok(db::users::set_token(conn, user_id, &digest)?)
    })
    .await?;
    log::info!("user {} rotated their token", caller.username);
    Ok(envelope::ok(
        json!({"username": caller.username, "token": token}),
    ))
}
