//! Password sign-in, as TCA's credential service answers its web UI's login page
//! (`credential/api/v3/login/...`), and the caller's password. Sessions are tokens like API
//! tokens (`db::sessions`), sent back as `Authorization: CodeDog <token>`.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::api::{blocking, client_address, views};
use crate::auth::{Caller, Token};
use crate::body::Body;
use crate::clock;
use crate::db;
use crate::domain::user::{self, User};
use crate::envelope;
use crate::error::AppError;
use crate::throttle::Keys;
use crate::AppState;

/// How long a sign-in's token works. Not a setting: sign in again after it.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// TCA's answer to a wrong name or password (its login service's `OAInfoAPIView`), the same for
/// an unknown name, a user without a password and an inactive one.
const SIGN_IN_FAILED: &str = "登录失败，账户或密码错误或账户未注册";

/// `POST login/get_oapassword_info/` `{username, password}`: a session token, as TCA's
/// `OAInfoAPIView` answers (`{access_token, isRegister}`), or 400 with TCA's text.
pub async fn sign_in(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let body = body.fields()?;
    let mut fields = body.reader();
    let username = fields.required_str("username", 150);
    let password = fields.required_str("password", user::PASSWORD_MAX_CHARS);
    fields.finish()?;
    let keys = Keys::new(&username, client_address(&request));
    if let Err(wait) = state.login_throttle.check(&keys) {
        log::warn!("sign-in as {username:?} refused: too many failures");
        return Err(AppError::TooManyRequests(wait.as_secs().max(1)));
    }
    let lookup = username.clone();
    let found = blocking::run(&state.pool, move |conn| {
        Ok(db::users::get_with_password(conn, &lookup)?)
    })
    .await?;
    let Some(user) = verify(found, password).await? else {
        state.login_throttle.failed(&keys);
        log::info!("sign-in as {username:?} failed");
        return Err(AppError::business(1000, SIGN_IN_FAILED));
    };
    state.login_throttle.succeeded(&keys);
    let token = user::new_token();
    let digest = user::digest(&token);
    let expires = clock::to_stored(time::OffsetDateTime::now_utc() + SESSION_LIFETIME);
    let user_id = user.id;
    let stored_expiry = expires.clone();
    blocking::run(&state.pool, move |conn| {
        Ok(db::sessions::insert(
            conn,
            user_id,
            &digest,
            &stored_expiry,
        )?)
    })
    .await?;
    log::info!("user {} signed in with a password", user.username);
    Ok(envelope::ok(json!({
        "access_token": token,
        "isRegister": true,
        "token_type": "CodeDog",
        "expires_time": clock::display(&expires, state.config.tz_offset),
        "username": user.username,
        "nickname": user.nickname,
    })))
}

/// The user when `password` is theirs and they may sign in. The hash is checked off the event
/// loop, and against a decoy when there is nothing to check, so every failure costs the same.
async fn verify(
    found: Option<(User, Option<String>)>,
    password: String,
) -> Result<Option<User>, AppError> {
    let (user, stored) = match found {
        Some((user, stored)) => (Some(user), stored),
        None => (None, None),
    };
    let has_password = stored.is_some();
    let matches = web::block(move || {
        let stored = stored.as_deref().unwrap_or(user::decoy_password_hash());
        user::password_matches(&password, stored)
    })
    .await?;
    Ok(user.filter(|user| matches && has_password && user.is_active))
}

/// `GET login/user/`: the signed-in user, as TCA's credential service describes them
/// (`TokenUserDetailAPIView`); the UI then hands it to `v3/authen/userinfo/`.
pub async fn get_signed_in_user(Caller(caller): Caller) -> HttpResponse {
    envelope::ok(credential_user(&caller))
}

/// `PUT login/user/` `{nickname?}`: changes the caller's nickname, as the UI's profile page
/// does through the credential service.
pub async fn update_signed_in_user(
    state: web::Data<AppState>,
    token: Token,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let user = update_nickname(&state, token, body).await?;
    Ok(envelope::ok(credential_user(&user)))
}

/// `PUT v3/authen/userinfo/` `{nickname?}`: the same change on the main API (TCA's
/// `UserInfoApiView`), answering the caller's record.
pub async fn update_userinfo(
    state: web::Data<AppState>,
    token: Token,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let user = update_nickname(&state, token, body).await?;
    Ok(envelope::ok(views::user(&user)))
}

async fn update_nickname(
    state: &web::Data<AppState>,
    token: Token,
    body: Body,
) -> Result<User, AppError> {
    blocking::run(&state.pool, move |conn| {
        let mut user = token.authenticate(conn)?;
        let body = body.fields()?;
        let mut fields = body.reader();
        let nickname = fields
            .optional_str("nickname", 64)
            .filter(|nickname| !nickname.trim().is_empty());
        fields.finish()?;
        if let Some(nickname) = nickname {
            db::users::set_nickname(conn, user.id, &nickname)?;
            user.nickname = nickname;
        }
        Ok(user)
    })
    .await
}

/// `PUT v3/authen/userinfo/password/` `{password, old_password}`: sets the caller's password
/// (`old_password` is required once they have one) and ends their sign-in sessions.
pub async fn set_own_password(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let body = body.fields()?;
    let mut fields = body.reader();
    let password = fields.required_str("password", user::PASSWORD_MAX_CHARS);
    if let Err(message) = user::check_password_shape(&password) {
        fields.reject("password", message);
    }
    let old_password = fields.optional_str("old_password", user::PASSWORD_MAX_CHARS);
    fields.finish()?;
    let username = caller.username.clone();
    let found = blocking::run(&state.pool, move |conn| {
        Ok(db::users::get_with_password(conn, &username)?)
    })
    .await?;
    if found.as_ref().is_some_and(|(_, stored)| stored.is_some()) {
        let old_password = old_password.unwrap_or_default();
        if verify(found, old_password).await?.is_none() {
            return Err(AppError::invalid("old_password", "密码错误。"));
        }
    }
    let hash = web::block(move || user::hash_password(&password)).await?;
    let user_id = caller.id;
    blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        db::users::set_password(&tx, user_id, Some(&hash))?;
        db::sessions::delete_for_user(&tx, user_id)?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    log::info!("user {} set their password", caller.username);
    Ok(envelope::ok(views::user(&caller)))
}

/// A user as TCA's credential service serializes them (`UserInfoSerializer`: `uid`,
/// `nickname`, ...); codepup's user name is the `uid`.
fn credential_user(user: &User) -> serde_json::Value {
    json!({
        "uid": user.username,
        "username": user.username,
        "nickname": user.nickname,
        "is_superuser": user.is_superuser,
        "avatar_url": null,
        "status": if user.is_active { 1 } else { 2 },
    })
}
