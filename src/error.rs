//! `AppError`, the one error type of the HTTP layer, and the only place an error body is built.
//! Variants say what the client should do next; TCA's numeric codes and texts win where it has them.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// TCA's default code for HTTP-API errors (`E_SERVER_BASE`).
pub const E_SERVER_BASE: i64 = 1000;
/// A team name already taken in its org.
pub const E_TEAM_EXISTS: i64 = 1021;
/// A repository URL already registered in the team.
pub const E_REPO_EXISTS: i64 = 1040;
/// An org id already taken.
pub const E_ORG_EXISTS: i64 = 1061;
/// A project that cannot be created as asked.
pub const E_PROJECT_CREATE: i64 = 1101;
/// A scan scheme that cannot be created as asked.
pub const E_SCHEME_CONF: i64 = 1400;

/// Why an `Authorization` header did not authenticate anyone (TCA's texts, §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    EmptyToken,
    TokenHasSpaces,
    UnknownToken,
    Inactive,
    /// A webhook delivery without a valid signature (or token) for its hook.
    BadSignature,
}

impl AuthFailure {
    fn msg(self) -> &'static str {
        match self {
            AuthFailure::Missing => "身份认证信息未提供。",
            AuthFailure::EmptyToken => "没有提供认证信息（认证令牌HTTP头无效）。",
            AuthFailure::TokenHasSpaces => "认证令牌字符串不应该包含空格（无效的认证令牌HTTP头）。",
            AuthFailure::UnknownToken => "认证令牌无效。",
            AuthFailure::Inactive => "用户未激活或者已删除。",
            AuthFailure::BadSignature => "webhook signature missing or wrong for this hook",
        }
    }
}

/// One rejected input field: its name and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid input: {0:?}")]
    InvalidInput(Vec<FieldError>),
    #[error("not authenticated: {0:?}")]
    Unauthenticated(AuthFailure),
    #[error("permission denied")]
    Forbidden,
    /// `what` names the missing thing for the log, e.g. `project 3`; the body is TCA's bare
    /// `未找到。`, without it.
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("method {method} not allowed")]
    /// The method asked for, and the methods the resource takes (`Allow`).
    MethodNotAllowed { method: String, allowed: String },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type {0}")]
    UnsupportedMediaType(String),
    /// A rule of TCA's with its own code (300, 1021, 1040, ...).
    #[error("business rule {code}: {msg}")]
    Business { code: i64, msg: String },
    /// Too many failed sign-ins (`throttle::LoginThrottle`); the client may retry after this
    /// many seconds.
    #[error("too many requests, retry after {0} s")]
    TooManyRequests(u64),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// One invalid field, e.g. `AppError::invalid("name", "This field is required.")`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError::InvalidInput(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn not_found(what: impl Into<String>) -> AppError {
        AppError::NotFound { what: what.into() }
    }

    pub fn business(code: i64, msg: impl Into<String>) -> AppError {
        AppError::Business {
            code,
            msg: msg.into(),
        }
    }

    pub fn code(&self) -> i64 {
        match self {
            AppError::Business { code, .. } => *code,
            _ => E_SERVER_BASE,
        }
    }

    fn msg(&self) -> String {
        match self {
            AppError::InvalidInput(fields) => match fields.first() {
                Some(first) => format!("{} {}", first.field, first.message),
                None => "invalid input".to_string(),
            },
            AppError::Unauthenticated(failure) => failure.msg().to_string(),
            AppError::Forbidden => "您没有执行该操作的权限。".to_string(),
            AppError::NotFound { .. } => "未找到。".to_string(),
            AppError::MethodNotAllowed { method, .. } => format!("方法 “{method}” 不被允许。"),
            AppError::PayloadTooLarge => "request body too large: the limit is 1 MiB".to_string(),
            AppError::UnsupportedMediaType(media) => {
                format!("不支持请求中的媒体类型 “{media}”。send application/json, application/x-www-form-urlencoded or multipart/form-data")
            }
            AppError::Business { msg, .. } => msg.clone(),
            AppError::TooManyRequests(seconds) => {
                format!("请求超过了限速。预计 {seconds} 秒后可用。")
            }
            AppError::Unavailable(_) => "service busy, try again shortly".to_string(),
            AppError::Internal(_) => "internal error".to_string(),
        }
    }
}

/// TCA's error envelope, the body of every failure (the OpenAPI document's `Error`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Always the HTTP status.
    pub status_code: u16,
    /// TCA's code: 1000, or a business code such as 300, 1021, 1040.
    pub code: i64,
    /// Safe to show a user.
    pub msg: String,
    /// Every field a 400 refused, with why.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub invalid_fields: Option<Vec<InvalidField>>,
}

/// A refused field of a request, in DRF's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvalidField {
    pub field: String,
    pub message: Vec<String>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::InvalidInput(_) | AppError::Business { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            AppError::Internal(source) => log::error!("internal error: {source:#}"),
            AppError::Unavailable(why) => log::warn!("unavailable: {why}"),
            other => log::debug!("request refused: {other}"),
        }
        let body = ErrorBody {
            status_code: status.as_u16(),
            code: self.code(),
            msg: self.msg(),
            invalid_fields: match self {
                AppError::InvalidInput(fields) => Some(
                    fields
                        .iter()
                        .map(|f| InvalidField {
                            field: f.field.clone(),
                            message: vec![f.message.clone()],
                        })
                        .collect(),
                ),
                _ => None,
            },
        };
        let mut response = HttpResponse::build(status);
        if matches!(self, AppError::Unauthenticated(_)) {
            response.insert_header((header::WWW_AUTHENTICATE, "Token"));
        }
        if let AppError::MethodNotAllowed { allowed, .. } = self {
            response.insert_header((header::ALLOW, allowed.as_str()));
        }
        if let AppError::TooManyRequests(seconds) = self {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(body)
    }
}

impl From<rusqlite::Error> for AppError {
    fn from(error: rusqlite::Error) -> AppError {
        if is_busy(&error) {
            return AppError::Unavailable(format!("database busy: {error}"));
        }
        AppError::Internal(anyhow::Error::new(error))
    }
}

impl From<r2d2::Error> for AppError {
    fn from(error: r2d2::Error) -> AppError {
        AppError::Unavailable(format!("no database connection free: {error}"))
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(error: actix_web::error::BlockingError) -> AppError {
        AppError::Internal(anyhow::anyhow!("blocking task failed: {error}"))
    }
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(code, _)
            if matches!(code.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}
