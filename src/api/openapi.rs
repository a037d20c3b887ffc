//! The OpenAPI 3.1 document of every route, built from the route table (`api::table`) with
//! utoipa's builders, so it describes exactly what is served. Served at `.../api/openapi.json`.

use std::sync::OnceLock;

use actix_web::http::{header, Method};
use actix_web::HttpResponse;
use regex::Regex;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{
    AllOfBuilder, ArrayBuilder, ComponentsBuilder, ObjectBuilder, Schema, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required,
};
use utoipa::ToSchema;

use crate::api::query::PageBody;
use crate::api::table::{Answer, BodyField, Doc, Walked};
use crate::envelope::Envelope;
use crate::error::{ErrorBody, InvalidField};

const ABOUT: &str = "codepup speaks Tencent Cloud Code Analysis (TCA)'s HTTP API. Every answer \
of the JSON API is TCA's envelope: `Envelope` on success, `Error` on failure. The paths shown \
under `/server/main/api`, `/server/analysis/api` and `/server/credential/api` are served as well \
with `/server` stripped (`/main/api/...`, as TCA's nginx passes them on), and the main API also \
under `/api`. Send `Authorization: Token <key>` (or TCA's UI's `CodeDog <key>`).";

/// The error answers every operation may give; each is the `Error` envelope.
const ERRORS: [(&str, &str); 8] = [
    ("400", "invalid input, or a business rule refused it"),
    (
        "401",
        "no valid token (or, for a delivery, no valid signature)",
    ),
    ("403", "the caller may not see this or do this"),
    ("404", "something the URL names does not exist"),
    ("413", "the body is over 1 MiB"),
    ("415", "the body is not JSON, a form or multipart"),
    ("429", "too many failed sign-ins"),
    ("503", "the database is busy; try again"),
];

/// The served document, built once.
pub async fn get_document() -> HttpResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let text = DOCUMENT.get_or_init(|| {
        document()
            .to_json()
            .expect("an OpenAPI document of plain values serialises")
    });
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(text.clone())
}

/// The document of the whole route table.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    crate::api::table().walk(&mut |walked| {
        if walked.documented {
            let (path, parameters) = openapi_path(&walked.path);
            let operation = operation(&walked, parameters);
            paths = std::mem::take(&mut paths)
                .path(path, PathItem::new(http_method(walked.method), operation));
        }
    });
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("codepup")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(ABOUT))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components()))
        .security(Some([SecurityRequirement::new(
            "token",
            Vec::<String>::new(),
        )]))
        .build()
}

fn components() -> utoipa::openapi::Components {
    let token = ApiKeyValue::with_description(
        "Authorization",
        "`Token <key>` or `CodeDog <key>`: a user's API token or a sign-in session's",
    );
    ComponentsBuilder::new()
        .schema_from::<Envelope>()
        .schema_from::<ErrorBody>()
        .schema_from::<InvalidField>()
        .schema_from::<PageBody>()
        .security_scheme("token", SecurityScheme::ApiKey(ApiKey::Header(token)))
        .build()
}

/// An actix pattern (`/repos/{repo_id:\d+}/`) as an OpenAPI path (`/repos/{repo_id}/`) with its
/// parameters: integers where the pattern asks for digits, else strings.
fn openapi_path(pattern: &str) -> (String, Vec<utoipa::openapi::path::Parameter>) {
    static SEGMENT: OnceLock<Regex> = OnceLock::new();
    let segment = SEGMENT.get_or_init(|| {
        Regex::new(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}").expect("a valid pattern")
    });
    let parameters = segment
        .captures_iter(pattern)
        .map(|captures| {
            let is_integer = captures
                .get(2)
                .is_some_and(|regex| regex.as_str() == r"\d+");
            let schema = if is_integer {
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Int64,
                    )))
                    .minimum(Some(0))
            } else {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
            };
            ParameterBuilder::new()
                .name(&captures[1])
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema))
                .build()
        })
        .collect();
    (
        segment.replace_all(pattern, "{$1}").into_owned(),
        parameters,
    )
}

fn operation(
    walked: &Walked<'_>,
    parameters: Vec<utoipa::openapi::path::Parameter>,
) -> utoipa::openapi::path::Operation {
    let doc = walked.doc;
    let mut operation = OperationBuilder::new()
        .operation_id(Some(walked.operation_id()))
        .summary(Some(doc.summary))
        .parameters(Some(parameters))
        .responses(responses(doc));
    let paging: &[BodyField] = if doc.answer == Answer::Page {
        &[("limit", "integer"), ("offset", "integer")]
    } else {
        &[]
    };
    for (name, kind) in paging.iter().chain(doc.query.iter().copied().flatten()) {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .schema(Some(ObjectBuilder::new().schema_type(json_type(kind)))),
        );
    }
    if matches!(*walked.method, Method::POST | Method::PUT | Method::PATCH) {
        operation = operation.request_body(Some(request_body(doc)));
    }
    if doc.anonymous {
        operation = operation.securities(Some([SecurityRequirement::default()]));
    }
    operation.build()
}

/// The body as JSON or a form: an object with the fields the table names (others are ignored).
fn request_body(doc: &Doc) -> utoipa::openapi::request_body::RequestBody {
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for (name, kind) in doc.body {
        object = object.property(*name, ObjectBuilder::new().schema_type(json_type(kind)));
    }
    let schema: Schema = object.into();
    let mut body = RequestBodyBuilder::new();
    for media in ["application/json", "application/x-www-form-urlencoded"] {
        body = body.content(
            media,
            ContentBuilder::new().schema(Some(schema.clone())).build(),
        );
    }
    body.build()
}

fn responses(doc: &Doc) -> utoipa::openapi::Responses {
    let status = match doc.answer {
        Answer::Empty => "204",
        _ if doc.created => "201",
        _ => "200",
    };
    let mut responses = ResponsesBuilder::new().response(status, success(doc, doc.summary));
    if doc.created && doc.or_existing {
        responses = responses.response("200", success(doc, "it existed already"));
    }
    for (status, description) in ERRORS {
        let error = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .build();
        responses = responses.response(
            status,
            ResponseBuilder::new()
                .description(description)
                .content("application/json", error),
        );
    }
    responses.build()
}

/// The success answer: its media type and schema.
fn success(doc: &Doc, description: &str) -> utoipa::openapi::Response {
    let object = || RefOr::from(ObjectBuilder::new().schema_type(Type::Object));
    let (media, schema) = match doc.answer {
        Answer::Record => ("application/json", enveloped(object())),
        Answer::Page => (
            "application/json",
            enveloped(Ref::from_schema_name(PageBody::name()).into()),
        ),
        Answer::List => (
            "application/json",
            enveloped(ArrayBuilder::new().items(any_value()).into()),
        ),
        Answer::Json => ("application/json", object()),
        Answer::Sarif => ("application/sarif+json", object()),
        Answer::Text => (
            "text/plain",
            ObjectBuilder::new().schema_type(Type::String).into(),
        ),
        Answer::Csv => (
            "text/csv",
            ObjectBuilder::new().schema_type(Type::String).into(),
        ),
        Answer::Html => ("*/*", any_value()),
        Answer::Empty => return ResponseBuilder::new().description(description).build(),
    };
    ResponseBuilder::new()
        .description(description)
        .content(media, ContentBuilder::new().schema(Some(schema)).build())
        .build()
}

/// The success envelope with `data` narrowed to `data`.
fn enveloped(data: RefOr<Schema>) -> RefOr<Schema> {
    AllOfBuilder::new()
        .item(Ref::from_schema_name(Envelope::name()))
        .item(ObjectBuilder::new().property("data", data))
        .into()
}

fn any_value() -> RefOr<Schema> {
    utoipa::openapi::schema::empty().into()
}

/// A field's type as the table names it (`"integer"`, ...).
fn json_type(kind: &str) -> Type {
    match kind {
        "integer" => Type::Integer,
        "boolean" => Type::Boolean,
        "array" => Type::Array,
        "object" => Type::Object,
        _ => Type::String,
    }
}

fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use actix_web::test as actix_test;
    use actix_web::{web, App, HttpResponse};

    use super::*;

    /// Every documented operation as (method, path with its parameters filled in).
    fn documented() -> Vec<(Method, String)> {
        let mut operations = Vec::new();
        crate::api::table().walk(&mut |walked| {
            if walked.documented {
                let (path, _) = openapi_path(&walked.path);
                let filled = Regex::new(r"\{([a-z_]+)\}")
                    .unwrap()
                    .replace_all(&path, |captures: &regex::Captures<'_>| {
                        if captures[1].ends_with("_id") {
                            "1"
                        } else {
                            "a"
                        }
                        .to_string()
                    })
                    .into_owned();
                operations.push((walked.method.clone(), filled));
            }
        });
        operations
    }

    #[actix_web::test]
    async fn every_documented_operation_reaches_a_handler_of_its_method() {
        let app = actix_test::init_service(
            App::new()
                .configure(crate::api::routes)
                .default_service(web::to(|| async { HttpResponse::ImATeapot().finish() })),
        )
        .await;
        let operations = documented();
        assert!(operations.len() > 200);
        for (method, path) in operations {
            let request = actix_test::TestRequest::default()
                .method(method.clone())
                .uri(&path)
                .to_request();
            let status = actix_test::call_service(&app, request)
                .await
                .status()
                .as_u16();
            // 418: no route took the path; 405: a route took it but not this method.
            assert!(status != 418 && status != 405, "{method} {path}: {status}");
        }
    }

    #[test]
    fn a_new_scheme_takes_the_gate_fields_that_gateconf_takes() {
        let mut bodies = std::collections::HashMap::new();
        crate::api::table().walk(&mut |walked| {
            let names: Vec<&str> = walked.doc.body.iter().map(|(name, _)| *name).collect();
            bodies.insert(walked.doc.id, names);
        });
        let gate = ["gate_max_new_errors", "gate_no_new_secrets"];
        let gate = [&gate[..], &["gate_max_new_complex", "gate_max_dup_rate"]].concat();
        assert_eq!(bodies["update_gate_conf"], gate);
        let scheme = &bodies["create_scheme"];
        assert_eq!(scheme.len(), 15);
        assert_eq!(scheme[..2], ["name", "description"]);
        assert_eq!(scheme[11..], gate[..]);
    }

    #[test]
    fn every_route_served_under_a_stripped_prefix_is_documented_under_its_full_one() {
        let mut documented = HashSet::new();
        let mut aliases = Vec::new();
        crate::api::table().walk(&mut |walked| {
            let key = (walked.method.clone(), walked.path.clone());
            if walked.documented {
                documented.insert(key);
            } else {
                aliases.push(key);
            }
        });
        assert!(aliases.len() > 200);
        for (method, path) in aliases {
            let full = if path.starts_with("/api/") {
                format!("/server/main{path}")
            } else {
                format!("/server{path}")
            };
            assert!(
                documented.contains(&(method.clone(), full.clone())),
                "{method} {path} is served, {full} is not documented"
            );
        }
    }

    #[test]
    fn routes_are_registered_only_through_the_table() {
        // Whatever registers a route with actix directly would be served undescribed.
        let forbidden =
            ["web::resource", "web::scope", ".route", "cfg.service"].map(|name| format!("{name}("));
        let mut files = vec!["src/web.rs".to_string()];
        for entry in std::fs::read_dir("src/api").unwrap() {
            files.push(entry.unwrap().path().to_string_lossy().into_owned());
        }
        for file in files.iter().filter(|file| !file.ends_with("table.rs")) {
            let text = std::fs::read_to_string(file).unwrap();
            for needle in &forbidden {
                assert!(
                    !text.contains(needle),
                    "{file} registers a route with `{needle}`: add it to the table in api/mod.rs"
                );
            }
        }
    }

    #[test]
    fn integer_path_parameters_are_integers_and_the_regex_is_gone() {
        let (path, parameters) = openapi_path("/repos/{repo_id:\\d+}/b/{name}/{path:.*}");
        assert_eq!(path, "/repos/{repo_id}/b/{name}/{path}");
        let json = serde_json::to_value(&parameters).unwrap();
        assert_eq!(json[0]["schema"]["type"], "integer");
        assert_eq!(json[1]["schema"]["type"], "string");
        assert_eq!(json[2]["name"], "path");
    }
}
