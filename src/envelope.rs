//! TCA's success envelope: `{"data": ..., "code": 0, "msg": "请求成功", "status_code": 200}`.
//! Every successful API answer is built here, so `code`, `msg` and `status_code` agree everywhere.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

pub const OK_MSG: &str = "请求成功";

/// 200 with `data` wrapped in the envelope.
pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    respond(StatusCode::OK, data)
}

/// 201 with `data` wrapped in the envelope.
pub fn created<T: Serialize>(data: T) -> HttpResponse {
    respond(StatusCode::CREATED, data)
}

fn respond<T: Serialize>(status: StatusCode, data: T) -> HttpResponse {
    let data = match serde_json::to_value(data) {
        Ok(data) => data,
        Err(error) => {
            return actix_web::ResponseError::error_response(&crate::error::AppError::Internal(
                anyhow::Error::new(error).context("serialising a response"),
            ))
        }
    };
    // TCA lifts a payload's own `msg` into the envelope (a cancel answers "取消成功").
    let msg = data
        .get("msg")
        .and_then(Value::as_str)
        .unwrap_or(OK_MSG)
        .to_string();
    HttpResponse::build(status).json(Envelope {
        data,
        code: 0,
        msg,
        status_code: status.as_u16(),
    })
}

/// TCA's success envelope (the OpenAPI document's `Envelope`; each operation narrows `data`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope {
    pub data: Value,
    /// Always 0.
    #[schema(minimum = 0, maximum = 0)]
    pub code: i64,
    /// `请求成功`, or a message the answer lifts from its data (`取消成功`).
    pub msg: String,
    /// Always the HTTP status.
    pub status_code: u16,
}
