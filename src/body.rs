//! Request bodies: JSON objects and `application/x-www-form-urlencoded` forms (TCA's own scripts
//! send forms), read with a 1 MiB limit into one field map, plus typed readers for its fields that
//! collect every problem into one `InvalidInput` error. Unknown keys are ignored, as TCA does.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use crate::error::{AppError, FieldError, E_SERVER_BASE};

/// Bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const REQUIRED: &str = "This field is required.";
const NOT_NULL: &str = "该字段不能为 null。";
const NOT_BLANK: &str = "This field may not be blank.";

/// The request body as an extractor. Reading and parsing happen here, but a failure (413, 415,
/// malformed JSON) is only reported when the handler asks for the fields with `fields()`, after
/// its 404 and 403 checks, so the order of checks holds for bodies too.
#[derive(Debug)]
pub struct Body {
    parsed: Result<Fields, AppError>,
}

impl Body {
    /// The parsed fields, or why the body could not be read.
    pub fn fields(self) -> Result<Fields, AppError> {
        self.parsed
    }
}

/// A parsed request body: its fields, and whether it came as a form (TCA reads a boolean missing
/// from a form as false, following the HTML checkbox rule; `scans/create` needs to know).
#[derive(Debug, Default)]
pub struct Fields {
    fields: Map<String, Value>,
    is_form: bool,
}

impl FromRequest for Body {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Body, AppError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let declared_length = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            let parsed = read(&mut payload, declared_length)
                .await
                .and_then(|bytes| Fields::parse(&content_type, &bytes));
            Ok(Body { parsed })
        })
    }
}

async fn read(payload: &mut Payload, declared_length: Option<usize>) -> Result<Vec<u8>, AppError> {
    if declared_length.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(AppError::PayloadTooLarge);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            AppError::business(
                E_SERVER_BASE,
                format!("could not read the request body: {error}"),
            )
        })?;
        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

impl Fields {
    /// Parses `bytes` sent with `content_type` (already lowercased, without parameters).
    pub fn parse(content_type: &str, bytes: &[u8]) -> Result<Fields, AppError> {
        let is_blank = bytes.iter().all(u8::is_ascii_whitespace);
        if content_type == "application/x-www-form-urlencoded" {
            return Ok(Fields {
                fields: parse_form(bytes)?,
                is_form: true,
            });
        }
        if content_type == "application/json" || content_type.ends_with("+json") {
            if is_blank {
                return Ok(Fields::default());
            }
            return parse_json(bytes).map(|fields| Fields {
                fields,
                is_form: false,
            });
        }
        if content_type.is_empty() {
            // curl -d without -H sends a form type, but a bare client may send JSON with no type.
            if is_blank {
                return Ok(Fields::default());
            }
            return parse_json(bytes).map(|fields| Fields {
                fields,
                is_form: false,
            });
        }
        Err(AppError::UnsupportedMediaType(content_type.to_string()))
    }

    pub fn is_form(&self) -> bool {
        self.is_form
    }

    /// Whether the client sent `key` at all (even as null).
    pub fn has(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    /// Starts reading fields; call `finish()` at the end to get every problem at once.
    pub fn reader(&self) -> FieldReader<'_> {
        FieldReader {
            body: self,
            errors: Vec::new(),
        }
    }
}

fn parse_json(bytes: &[u8]) -> Result<Map<String, Value>, AppError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|error| {
        AppError::business(E_SERVER_BASE, format!("JSON parse error - {error}"))
    })?;
    match value {
        Value::Object(fields) => Ok(fields),
        other => Err(AppError::invalid(
            "non_field_errors",
            format!(
                "Invalid data. Expected a dictionary, but got {}.",
                json_type(&other)
            ),
        )),
    }
}

fn parse_form(bytes: &[u8]) -> Result<Map<String, Value>, AppError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).map_err(|error| {
        AppError::business(E_SERVER_BASE, format!("form parse error - {error}"))
    })?;
    let mut fields = Map::new();
    for (key, value) in pairs {
        match fields.get_mut(&key) {
            None => {
                fields.insert(key, Value::String(value));
            }
            Some(Value::Array(values)) => values.push(Value::String(value)),
            Some(previous) => {
                let first = previous.take();
                *previous = Value::Array(vec![first, Value::String(value)]);
            }
        }
    }
    Ok(fields)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Typed access to a body's fields. Each getter records what was wrong instead of failing, so one
/// answer can name every bad field.
pub struct FieldReader<'a> {
    body: &'a Fields,
    errors: Vec<FieldError>,
}

impl FieldReader<'_> {
    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// The last value sent for a form key repeated by mistake; JSON values as they are.
    fn scalar(&self, field: &str) -> Option<&Value> {
        match self.body.fields.get(field)? {
            Value::Array(values) if self.body.is_form => values.last(),
            value => Some(value),
        }
    }

    /// A required string, trimmed, non-blank, at most `max_chars` characters.
    pub fn required_str(&mut self, field: &str, max_chars: usize) -> String {
        match self.optional_str(field, max_chars) {
            Some(text) if text.is_empty() => {
                self.fail(field, NOT_BLANK);
                text
            }
            Some(text) => text,
            None => {
                if !self.body.has(field) {
                    self.fail(field, REQUIRED);
                }
                String::new()
            }
        }
    }

    /// An optional string, trimmed; `None` when absent, null or of a wrong type (the last is recorded).
    pub fn optional_str(&mut self, field: &str, max_chars: usize) -> Option<String> {
        let text = match self.scalar(field)? {
            Value::Null => {
                self.fail(field, NOT_NULL);
                return None;
            }
            Value::String(text) => text.trim().to_string(),
            Value::Number(number) => number.to_string(),
            Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
                self.fail(field, "Not a valid string.");
                return None;
            }
        };
        if text.chars().count() > max_chars {
            self.fail(
                field,
                format!("Ensure this field has no more than {max_chars} characters."),
            );
            return None;
        }
        Some(text)
    }

    /// A boolean in any of TCA's spellings (`true`, `1`, `yes`, `on`, `t`, `y`, ... and their opposites).
    pub fn optional_bool(&mut self, field: &str) -> Option<bool> {
        let parsed = match self.scalar(field)? {
            Value::Null => {
                self.fail(field, NOT_NULL);
                return None;
            }
            Value::Bool(flag) => Some(*flag),
            Value::Number(number) => match number.as_f64() {
                Some(1.0) => Some(true),
                Some(0.0) => Some(false),
                _ => None,
            },
            Value::String(text) => parse_bool(text.trim()),
            Value::Array(_) | Value::Object(_) => None,
        };
        if parsed.is_none() {
            self.fail(field, "Must be a valid boolean.");
        }
        parsed
    }

    /// An optional integer within `min..=max`, from a JSON number or a numeric string.
    pub fn optional_int(&mut self, field: &str, min: i64, max: i64) -> Option<i64> {
        let parsed = match self.scalar(field)? {
            Value::Null => {
                self.fail(field, NOT_NULL);
                return None;
            }
            Value::Number(number) => number.as_i64().or_else(|| {
                number
                    .as_f64()
                    .filter(|n| n.fract() == 0.0 && n.abs() < 9e15)
                    .map(|n| n as i64)
            }),
            Value::String(text) => text.trim().parse::<i64>().ok(),
            _ => None,
        };
        match parsed {
            None => {
                self.fail(field, "A valid integer is required.");
                None
            }
            Some(n) if n < min => {
                self.fail(
                    field,
                    format!("Ensure this value is greater than or equal to {min}."),
                );
                None
            }
            Some(n) if n > max => {
                self.fail(
                    field,
                    format!("Ensure this value is less than or equal to {max}."),
                );
                None
            }
            Some(n) => Some(n),
        }
    }

    /// An optional list of non-blank strings: a JSON array, or in a form a repeated key or a
    /// comma-separated value.
    pub fn optional_str_list(&mut self, field: &str, max_chars: usize) -> Option<Vec<String>> {
        let value = self.body.fields.get(field)?;
        let items: Vec<String> = match value {
            Value::Null => {
                self.fail(field, NOT_NULL);
                return None;
            }
            Value::Array(values) => {
                let mut items = Vec::with_capacity(values.len());
                for value in values {
                    match value {
                        Value::String(text) if self.body.is_form => {
                            items.extend(text.split(',').map(str::to_string))
                        }
                        Value::String(text) => items.push(text.clone()),
                        _ => {
                            self.fail(field, "Not a valid string.");
                            return None;
                        }
                    }
                }
                items
            }
            Value::String(text) if self.body.is_form => {
                text.split(',').map(str::to_string).collect()
            }
            other => {
                self.fail(
                    field,
                    format!(
                        "Expected a list of items but got type \"{}\".",
                        json_type(other)
                    ),
                );
                return None;
            }
        };
        let items: Vec<String> = items
            .into_iter()
            .map(|item| item.trim().to_string())
            .filter(|item| !item.is_empty() || !self.body.is_form)
            .collect();
        if items.iter().any(String::is_empty) {
            self.fail(field, NOT_BLANK);
            return None;
        }
        if items.iter().any(|item| item.chars().count() > max_chars) {
            self.fail(
                field,
                format!("Ensure every item has no more than {max_chars} characters."),
            );
            return None;
        }
        Some(items)
    }

    /// Records a problem found by the caller's own check.
    pub fn reject(&mut self, field: &str, message: impl Into<String>) {
        self.fail(field, message);
    }

    /// `Ok` when every field read so far was valid, else one `InvalidInput` naming them all.
    pub fn finish(self) -> Result<(), AppError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::InvalidInput(self.errors))
        }
    }
}

/// TCA's boolean spellings (DRF's `BooleanField`).
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" | "1" | "t" | "T" | "y" | "Y" | "yes" | "Yes" | "YES" | "on"
        | "On" | "ON" => Some(true),
        "false" | "False" | "FALSE" | "0" | "0.0" | "f" | "F" | "n" | "N" | "no" | "No" | "NO"
        | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_form_bodies_give_the_same_fields() {
        let json = Fields::parse(
            "application/json",
            br#"{"name": " web ", "lint_enabled": "yes"}"#,
        )
        .unwrap();
        let form = Fields::parse(
            "application/x-www-form-urlencoded",
            b"name=+web+&lint_enabled=yes",
        )
        .unwrap();
        for body in [&json, &form] {
            let mut reader = body.reader();
            assert_eq!(reader.required_str("name", 64), "web");
            assert_eq!(reader.optional_bool("lint_enabled"), Some(true));
            assert!(reader.finish().is_ok());
        }
        assert!(form.is_form() && !json.is_form());
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let body = Fields::parse(
            "application/json",
            br#"{"flag": "maybe", "n": "x", "name": ""}"#,
        )
        .unwrap();
        let mut reader = body.reader();
        reader.optional_bool("flag");
        reader.optional_int("n", 0, 10);
        reader.required_str("name", 10);
        reader.required_str("other", 10);
        let Err(AppError::InvalidInput(errors)) = reader.finish() else {
            panic!("expected invalid input")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["flag", "n", "name", "other"]);
        assert_eq!(errors[3].message, REQUIRED);
    }

    #[test]
    fn form_lists_come_from_repeated_keys_or_commas() {
        let body =
            Fields::parse("application/x-www-form-urlencoded", b"users=a&users=b,c").unwrap();
        let mut reader = body.reader();
        assert_eq!(
            reader.optional_str_list("users", 10),
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
    }

    #[test]
    fn bodies_that_are_not_objects_or_not_json_are_refused() {
        assert!(matches!(
            Fields::parse("application/json", b"[1]"),
            Err(AppError::InvalidInput(_))
        ));
        assert!(matches!(
            Fields::parse("application/json", b"{"),
            Err(AppError::Business { .. })
        ));
        assert!(matches!(
            Fields::parse("text/plain", b"x"),
            Err(AppError::UnsupportedMediaType(_))
        ));
        assert!(Fields::parse("", b"").unwrap().fields.is_empty());
    }
}
