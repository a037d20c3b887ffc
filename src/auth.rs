//! `Authorization: Token <key>` (or TCA's web UI's `CodeDog <key>`): the `Caller` extractor every
//! API handler takes. The key is a user's API token or a token password sign-in handed out.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use rusqlite::Connection;

use crate::api::blocking;
use crate::db;
use crate::domain::user::User;
use crate::error::{AppError, AuthFailure};
use crate::AppState;

/// The authenticated, active user a request acts for.
#[derive(Debug, Clone)]
pub struct Caller(pub User);

impl FromRequest for Caller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, AppError>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token = token_from_header(request.headers().get(header::AUTHORIZATION));
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = Token(token?);
            let state = state
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("application state missing")))?;
            let user = blocking::run(&state.pool, move |conn| token.authenticate(conn)).await?;
            Ok(Caller(user))
        })
    }
}

/// The key of `Authorization: Token <key>`, read but not yet checked: TCA's 401s for a missing
/// or malformed header come from the extractor, and the handler checks the key with
/// `authenticate` first thing in its one blocking call. That saves the thread hop `Caller`
/// takes on its own, on `scans/create`, the path clients call in bulk.
pub struct Token(String);

impl FromRequest for Token {
    type Error = AppError;
    type Future = std::future::Ready<Result<Token, AppError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(
            token_from_header(request.headers().get(header::AUTHORIZATION)).map(Token),
        )
    }
}

impl Token {
    /// The active user this key belongs to (SHA-256, compared in constant time), or 401: a
    /// user's API token, else an unexpired sign-in session's.
    pub fn authenticate(&self, conn: &Connection) -> Result<User, AppError> {
        let found = match db::users::find_by_token(conn, &self.0)? {
            Some(user) => Some(user),
            None => db::sessions::find_user(conn, &self.0)?,
        };
        match found {
            None => Err(AppError::Unauthenticated(AuthFailure::UnknownToken)),
            Some(user) if !user.is_active => Err(AppError::Unauthenticated(AuthFailure::Inactive)),
            Some(user) => Ok(user),
        }
    }
}

/// Reads the key from `Token <key>` or `CodeDog <key>` (keyword in any case; TCA's web UI sends
/// the latter), with TCA's distinct failures.
fn token_from_header(value: Option<&header::HeaderValue>) -> Result<String, AppError> {
    let Some(value) = value else {
        return Err(AppError::Unauthenticated(AuthFailure::Missing));
    };
    let Ok(text) = value.to_str() else {
        return Err(AppError::Unauthenticated(AuthFailure::UnknownToken));
    };
    let mut parts = text.split_whitespace();
    match parts.next() {
        Some(keyword)
            if keyword.eq_ignore_ascii_case("token") || keyword.eq_ignore_ascii_case("codedog") => {
        }
        _ => return Err(AppError::Unauthenticated(AuthFailure::Missing)),
    }
    let Some(token) = parts.next() else {
        return Err(AppError::Unauthenticated(AuthFailure::EmptyToken));
    };
    if parts.next().is_some() {
        return Err(AppError::Unauthenticated(AuthFailure::TokenHasSpaces));
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(text: &str) -> Option<AuthFailure> {
        let value = header::HeaderValue::from_str(text).unwrap();
        match token_from_header(Some(&value)) {
            Err(AppError::Unauthenticated(failure)) => Some(failure),
            _ => None,
        }
    }

    #[test]
    fn headers_fail_the_way_tca_says() {
        assert_eq!(
            token_from_header(None).err().map(|e| e.to_string()),
            Some(AppError::Unauthenticated(AuthFailure::Missing).to_string())
        );
        assert_eq!(failure("Bearer abc"), Some(AuthFailure::Missing));
        assert_eq!(failure("Token"), Some(AuthFailure::EmptyToken));
        assert_eq!(failure("Token a b"), Some(AuthFailure::TokenHasSpaces));
        assert_eq!(failure("token abc"), None);
        assert_eq!(failure("CodeDog abc"), None);
        assert_eq!(failure("CodeDog"), Some(AuthFailure::EmptyToken));
        let value = header::HeaderValue::from_static("TOKEN  abc ");
        assert_eq!(token_from_header(Some(&value)).ok().as_deref(), Some("abc"));
    }
}
