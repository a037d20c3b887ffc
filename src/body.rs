//! Request bodies: JSON objects, `application/x-www-form-urlencoded` forms (TCA's own scripts
//! send forms) and `multipart/form-data` text fields (`curl -F`), read with a 1 MiB limit into one
//! field map, plus typed readers for its fields that collect every problem into one
//! `InvalidInput` error. Unknown keys are ignored, as TCA does.

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
        let full_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string();
        let content_type = full_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let declared_length = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            let parsed = match read(&mut payload, declared_length).await {
                Err(error) => Err(error),
                Ok(bytes) if content_type == "multipart/form-data" => {
                    parse_multipart(&full_type, bytes).await
                }
                Ok(bytes) => Fields::parse(&content_type, &bytes),
            };
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

    /// Whether the client sent `key` as null (TCA reads a null as "not given" for some fields).
    pub fn is_null(&self, key: &str) -> bool {
        matches!(self.fields.get(key), Some(Value::Null))
    }

    /// Whether the client sent `key` as null, or as an empty value in a form: "unset it".
    pub fn is_cleared(&self, key: &str) -> bool {
        match self.fields.get(key) {
            Some(Value::Null) => true,
            Some(Value::String(text)) => self.is_form && text.trim().is_empty(),
            _ => false,
        }
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
            // DRF's `Serializer.to_internal_value` in the Chinese TCA answers with (TCA_API.md
            // §2.3, observed), spaces around the type name included.
            format!(
                "无效数据。期待为字典类型，得到的是 {} 。",
                json_type(&other)
            ),
        )),
    }
}

fn parse_form(bytes: &[u8]) -> Result<Map<String, Value>, AppError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).map_err(|error| {
        AppError::business(E_SERVER_BASE, format!("form parse error - {error}"))
    })?;
    Ok(form_fields(pairs))
}

/// A `multipart/form-data` body (DRF's `MultiPartParser`, which TCA's views accept), already
/// read whole within the body limit. Its text fields read as a form's; a file part is refused,
/// since no endpoint takes an upload.
async fn parse_multipart(content_type: &str, bytes: Vec<u8>) -> Result<Fields, AppError> {
    let malformed = |error: multer::Error| {
        AppError::business(E_SERVER_BASE, format!("multipart parse error - {error}"))
    };
    let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
    let body = futures_util::stream::once(async move {
        Ok::<_, std::convert::Infallible>(actix_web::web::Bytes::from(bytes))
    });
    let mut multipart = multer::Multipart::new(body, boundary);
    let mut pairs = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let Some(name) = field.name().map(str::to_string) else {
            return Err(AppError::business(
                E_SERVER_BASE,
                "multipart parse error - a part has no name",
            ));
        };
        if field.file_name().is_some() {
            return Err(AppError::invalid(
                name,
                "file uploads are not accepted: send this field as text (curl -F 'name=value')",
            ));
        }
        pairs.push((name, field.text().await.map_err(malformed)?));
    }
    Ok(Fields {
        fields: form_fields(pairs),
        is_form: true,
    })
}

/// A form's fields: a key sent more than once becomes a list of its values.
fn form_fields(pairs: Vec<(String, String)>) -> Map<String, Value> {
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
    fields
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

    /// An optional string, trimmed, that may not be blank when sent (DRF's `CharField` with a
    /// default: `allow_blank` is false).
    pub fn optional_non_blank_str(&mut self, field: &str, max_chars: usize) -> Option<String> {
        let text = self.optional_str(field, max_chars)?;
        if text.is_empty() {
            self.fail(field, NOT_BLANK);
            return None;
        }
        Some(text)
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

    /// An optional finite number within `min..=max`, from a JSON number or a numeric string.
    pub fn optional_number(&mut self, field: &str, min: f64, max: f64) -> Option<f64> {
        let parsed = match self.scalar(field)? {
            Value::Null => {
                self.fail(field, NOT_NULL);
                return None;
            }
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.trim().parse::<f64>().ok(),
            _ => None,
        };
        match parsed.filter(|n| n.is_finite()) {
            None => {
                self.fail(field, "A valid number is required.");
                None
            }
            Some(n) if n < min || n > max => {
                self.fail(
                    field,
                    format!("Ensure this value is between {min} and {max}."),
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

    /// An optional list of at most `max_items` JSON objects, each to be read as a body of its
    /// own (a form cannot send one).
    pub fn optional_object_list(&mut self, field: &str, max_items: usize) -> Option<Vec<Fields>> {
        let value = self.body.fields.get(field)?;
        let Value::Array(values) = value else {
            self.fail(
                field,
                format!(
                    "Expected a list of items but got type \"{}\".",
                    json_type(value)
                ),
            );
            return None;
        };
        if values.len() > max_items {
            self.fail(
                field,
                format!("Ensure this field has no more than {max_items} elements."),
            );
            return None;
        }
        let mut items = Vec::with_capacity(values.len());
        for value in values {
            let Value::Object(fields) = value else {
                self.fail(field, "Invalid data. Expected a dictionary.");
                return None;
            };
            items.push(Fields {
                fields: fields.clone(),
                is_form: false,
            });
        }
        Some(items)
    }

    /// An optional list of integers: a JSON array of numbers (or numeric strings), or in a form
    /// a repeated key or a comma-separated value. More than `max_items` is refused.
    pub fn optional_int_list(&mut self, field: &str, max_items: usize) -> Option<Vec<i64>> {
        let value = self.body.fields.get(field)?;
        let items: Vec<&Value> = match value {
            Value::Null => {
                self.fail(field, NOT_NULL);
                return None;
            }
            Value::Array(values) => values.iter().collect(),
            Value::String(_) if self.body.is_form => vec![value],
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
        let mut numbers = Vec::with_capacity(items.len().min(max_items));
        for item in items {
            let parsed: Option<Vec<i64>> = match item {
                Value::Number(number) => number.as_i64().map(|n| vec![n]),
                Value::String(text) if self.body.is_form => text
                    .split(',')
                    .filter(|piece| !piece.trim().is_empty())
                    .map(|piece| piece.trim().parse().ok())
                    .collect(),
                Value::String(text) => text.trim().parse().ok().map(|n| vec![n]),
                _ => None,
            };
            match parsed {
                Some(parsed) => numbers.extend(parsed),
                None => {
                    self.fail(field, "A valid integer is required.");
                    return None;
                }
            }
            if numbers.len() > max_items {
                self.fail(
                    field,
                    format!("Ensure this field has no more than {max_items} elements."),
                );
                return None;
            }
        }
        Some(numbers)
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
        match Fields::parse("application/json", b"[1]") {
            Err(AppError::InvalidInput(fields)) => {
                assert_eq!(fields[0].field, "non_field_errors");
                assert_eq!(
                    fields[0].message,
                    "无效数据。期待为字典类型，得到的是 list 。"
                );
            }
            other => panic!("{other:?}"),
        }
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

/// Properties of the body readers (issue 8, hole 4): no body makes them panic, and every value
/// TCA accepts reads back as itself, from JSON and from a form.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const TRUE_SPELLINGS: [&str; 14] = [
        "true", "True", "TRUE", "1", "t", "T", "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
    ];
    const FALSE_SPELLINGS: [&str; 15] = [
        "false", "False", "FALSE", "0", "0.0", "f", "F", "n", "N", "no", "No", "NO", "off", "Off",
        "OFF",
    ];

    /// Any JSON value, a few levels deep.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            any::<String>().prop_map(Value::String),
            "[ ]?(yes|no|1|0|0.0|on|off|[0-9]{1,20})[ ]?".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,3}", inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// Reads `field` with every reader; none may panic.
    fn read_everything(body: &Fields, field: &str) {
        let mut reader = body.reader();
        reader.required_str(field, 8);
        reader.optional_str(field, 8);
        reader.optional_bool(field);
        reader.optional_int(field, 1, i64::MAX);
        reader.optional_int(field, i64::MIN, i64::MAX);
        reader.optional_str_list(field, 8);
        reader.optional_int_list(field, 3);
        reader.optional_number(field, 0.0, 100.0);
        body.is_cleared(field);
        let _ = reader.finish();
    }

    fn json_body(field: &str, value: Value) -> Fields {
        let text = json!({ field: value }).to_string();
        Fields::parse("application/json", text.as_bytes()).expect("an object parses")
    }

    fn form_body(pairs: &[(&str, &str)]) -> Fields {
        let text = serde_urlencoded::to_string(pairs).expect("strings encode");
        Fields::parse("application/x-www-form-urlencoded", text.as_bytes()).expect("forms parse")
    }

    proptest! {
        // A failure becomes a named unit test above, not a seed file in the repository.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn no_body_makes_the_parser_or_a_reader_panic(
            bytes in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..64),
                "[a-z]{1,3}=[%0-9A-Fa-f,+é]{0,10}(&[a-z]{1,3}=[^&]{0,10}){0,3}".prop_map(String::into_bytes),
                json_value().prop_map(|value| value.to_string().into_bytes()),
            ],
            content_type in prop::sample::select(vec![
                "application/json",
                "application/x-www-form-urlencoded",
                "application/vnd.api+json",
                "",
                "text/plain",
            ]),
        ) {
            if let Ok(body) = Fields::parse(content_type, &bytes) {
                for field in body.fields.keys() {
                    read_everything(&body, field);
                }
                read_everything(&body, "missing");
            }
        }

        #[test]
        fn no_json_value_makes_a_reader_panic(value in json_value()) {
            read_everything(&json_body("x", value), "x");
        }

        #[test]
        fn every_boolean_spelling_reads_the_same_from_json_and_a_form(
            index in any::<prop::sample::Index>(),
            is_true in any::<bool>(),
            padding in "[ \t]{0,2}",
        ) {
            let spelling = if is_true {
                *index.get(&TRUE_SPELLINGS)
            } else {
                *index.get(&FALSE_SPELLINGS)
            };
            let text = format!("{padding}{spelling}{padding}");
            for body in [json_body("flag", json!(text)), form_body(&[("flag", &text)])] {
                let mut reader = body.reader();
                prop_assert_eq!(reader.optional_bool("flag"), Some(is_true), "{:?}", text);
                prop_assert!(reader.finish().is_ok());
            }
            let body = json_body("flag", json!(is_true));
            let mut reader = body.reader();
            prop_assert_eq!(reader.optional_bool("flag"), Some(is_true));
            let body = json_body("flag", json!(u8::from(is_true)));
            let mut reader = body.reader();
            prop_assert_eq!(reader.optional_bool("flag"), Some(is_true));
        }

        #[test]
        fn any_other_text_is_not_a_boolean(text in any::<String>()) {
            let trimmed = text.trim();
            prop_assume!(!TRUE_SPELLINGS.contains(&trimmed) && !FALSE_SPELLINGS.contains(&trimmed));
            let body = json_body("flag", json!(text));
            let mut reader = body.reader();
            prop_assert_eq!(reader.optional_bool("flag"), None);
            let Err(AppError::InvalidInput(errors)) = reader.finish() else {
                panic!("a bad boolean is invalid input");
            };
            prop_assert_eq!(&errors[0].message, "Must be a valid boolean.");
        }

        #[test]
        fn an_id_reads_back_from_a_json_number_a_json_string_and_a_form(
            id in prop_oneof![Just(1), Just(i64::MAX), 1..=i64::MAX],
        ) {
            let text = id.to_string();
            for body in [
                json_body("id", json!(id)),
                json_body("id", json!(text)),
                json_body("id", json!(format!(" {text} "))),
                form_body(&[("id", &text)]),
            ] {
                let mut reader = body.reader();
                prop_assert_eq!(reader.optional_int("id", 1, i64::MAX), Some(id));
                prop_assert!(reader.finish().is_ok());
            }
        }

        #[test]
        fn an_integer_out_of_its_range_is_refused_with_the_bound(
            n in any::<i64>(),
            min in -100..=100i64,
            span in 0..=100i64,
        ) {
            let max = min + span;
            let body = json_body("n", json!(n));
            let mut reader = body.reader();
            let read = reader.optional_int("n", min, max);
            let result = reader.finish();
            if (min..=max).contains(&n) {
                prop_assert_eq!(read, Some(n));
                prop_assert!(result.is_ok());
            } else {
                prop_assert_eq!(read, None);
                let Err(AppError::InvalidInput(errors)) = result else {
                    panic!("an integer out of range is invalid input");
                };
                let bound = if n < min { min } else { max };
                prop_assert!(errors[0].message.contains(&bound.to_string()), "{}", errors[0].message);
            }
        }

        #[test]
        fn a_list_reads_back_from_a_json_array_repeated_form_keys_or_commas(
            items in prop::collection::vec("[^,\\s][^,]{0,6}[^,\\s]|[^,\\s]", 0..5),
        ) {
            let expected: Vec<String> = items.iter().map(|item| item.trim().to_string()).collect();
            prop_assume!(expected.iter().all(|item| !item.is_empty() && item.chars().count() <= 8));
            let repeated: Vec<(&str, &str)> = items.iter().map(|item| ("list", item.as_str())).collect();
            let joined = items.join(",");
            let mut bodies = vec![json_body("list", json!(items)), form_body(&[("list", &joined)])];
            if !items.is_empty() {
                bodies.push(form_body(&repeated));
            }
            for body in bodies {
                let mut reader = body.reader();
                let read = reader.optional_str_list("list", 8);
                prop_assert_eq!(read.as_ref(), Some(&expected), "{:?}", body);
                prop_assert!(reader.finish().is_ok());
            }
        }

        #[test]
        fn an_id_list_reads_back_from_a_json_array_repeated_form_keys_or_commas_up_to_its_cap(
            ids in prop::collection::vec(any::<i64>(), 0..6),
        ) {
            let texts: Vec<String> = ids.iter().map(i64::to_string).collect();
            let repeated: Vec<(&str, &str)> = texts.iter().map(|text| ("ids", text.as_str())).collect();
            let joined = texts.join(",");
            let mut bodies = vec![json_body("ids", json!(ids)), json_body("ids", json!(texts))];
            if !ids.is_empty() {
                bodies.push(form_body(&[("ids", &joined)]));
                bodies.push(form_body(&repeated));
            }
            for body in bodies {
                let mut reader = body.reader();
                let read = reader.optional_int_list("ids", 4);
                if ids.len() <= 4 {
                    prop_assert_eq!(read.as_ref(), Some(&ids), "{:?}", body);
                    prop_assert!(reader.finish().is_ok());
                } else {
                    prop_assert_eq!(read, None);
                    prop_assert!(reader.finish().is_err());
                }
            }
        }
    }
}
