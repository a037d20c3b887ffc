//! The status page: files from `assets/`, embedded in the binary. It never reads the database:
//! the page calls the JSON API like any other client.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use rust_embed::Embed;

use crate::api::table::{at, doc, Answer, Table};
use crate::error::AppError;

#[derive(Embed)]
#[folder = "assets/"]
struct Assets;

/// The page's routes, in the API's route table (`api::table`).
pub(crate) fn routes(table: &mut Table) {
    table
        .add(
            at("/").get(
                index,
                doc("get_status_page", "The status page (HTML)")
                    .anonymous()
                    .answers(Answer::Html),
            ),
        )
        .add(
            at("/assets/{path:.*}").get(
                asset,
                doc("get_asset", "A file of the status page")
                    .anonymous()
                    .answers(Answer::Html),
            ),
        );
}

async fn index() -> Result<HttpResponse, AppError> {
    serve("index.html")
}

async fn asset(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    serve(&path.into_inner())
}

fn serve(path: &str) -> Result<HttpResponse, AppError> {
    let file = Assets::get(path).ok_or_else(|| AppError::not_found(format!("asset {path}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type(path)))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(file.data.into_owned()))
}

/// Every asset's path, for tests that check each one is served.
pub fn asset_paths() -> Vec<String> {
    Assets::iter().map(|path| path.into_owned()).collect()
}

pub fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}
