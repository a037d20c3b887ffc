//! Line counts on TCA's `codemetric/` paths: `clocfiles/` (and `clocfiles/<id>/`), `clocs/`
//! (a directory's subdirectories and files with the directory's sums) and `cloclangs/`, all of
//! the project's last line count. TCA's views: `tca-src/server/projects/analysis/apps/
//! codemetric/apis/v2.py` (`ClocFileListView`, `ClocFileDetailView`, `ClocDirFileListView`,
//! `ClocLanguageListView`); serializers: `codemetric/serializers/codecount.py` (`ClocFile`,
//! `ClocDir`, `ClocLanguage` models' fields). codepup counts a tree, not its changes: the
//! `add_`, `mod_` and `del_` counts and `change_type` are null. A file's or directory's `id` is
//! derived from its path, so it stays the same from scan to scan.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::api::query::FilterReader;
use crate::api::query::{paginated, Query};
use crate::api::visible_project;
use crate::auth::Caller;
use crate::db;
use crate::db::cloc::FileLines;
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

type ProjectPath = web::Path<crate::api::ProjectPath>;

/// TCA's counts of changed lines, which codepup does not count.
pub const CHANGED_LINE_FIELDS: [&str; 12] = [
    "add_code_line_num",
    "add_comment_line_num",
    "add_blank_line_num",
    "add_total_line_num",
    "mod_code_line_num",
    "mod_comment_line_num",
    "mod_blank_line_num",
    "mod_total_line_num",
    "del_code_line_num",
    "del_comment_line_num",
    "del_blank_line_num",
    "del_total_line_num",
];

/// TCA's `ClocFile.CHANGE_TYPE_CHOICES`.
const CHANGE_TYPES: [&str; 3] = ["add", "del", "mod"];

/// The project's last line count: its job and scan.
struct Counted {
    scan_id: Option<i64>,
    project_id: i64,
}

/// Sums of counted files: code, comment, blank, files.
#[derive(Default, Clone, Copy)]
struct Sums {
    code: i64,
    comment: i64,
    blank: i64,
    files: i64,
}

impl Sums {
    fn add(&mut self, file: &FileLines) {
        self.code += file.code;
        self.comment += file.comment;
        self.blank += file.blank;
        self.files += 1;
    }
}

/// A stable id for a path: 48 bits of its SHA-256, plus one (never 0).
fn path_id(path: &str) -> i64 {
    let digest = Sha256::digest(path.as_bytes());
    let mut bytes = [0u8; 8];
    bytes[2..].copy_from_slice(&digest[..6]);
    i64::from_be_bytes(bytes) + 1
}

/// The counts and TCA's record fields every cloc row shares, in the models' order.
fn counts(sums: Sums, counted: &Counted) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("code_line_num".into(), json!(sums.code));
    row.insert("comment_line_num".into(), json!(sums.comment));
    row.insert("blank_line_num".into(), json!(sums.blank));
    row.insert(
        "total_line_num".into(),
        json!(sums.code + sums.comment + sums.blank),
    );
    for name in CHANGED_LINE_FIELDS {
        row.insert(name.into(), Value::Null);
    }
    row.insert("project_id".into(), json!(counted.project_id));
    row.insert("scan_id".into(), json!(counted.scan_id));
    row.insert("is_latest".into(), json!(true));
    row
}

/// A file as TCA's `ClocFileSerializer` shows it.
fn file_item(file: &FileLines, counted: &Counted) -> Value {
    let (dir_path, file_name) = file.path.rsplit_once('/').unwrap_or(("", &file.path));
    let mut sums = Sums::default();
    sums.add(file);
    let mut row = Map::new();
    row.insert("id".into(), json!(path_id(&file.path)));
    row.extend(counts(sums, counted));
    row.insert("dir_path".into(), json!(dir_path));
    row.insert("file_name".into(), json!(file_name));
    row.insert("business_names".into(), Value::Null);
    row.insert("subscribers".into(), Value::Null);
    row.insert("language".into(), json!(file.language));
    row.insert("change_type".into(), Value::Null);
    Value::Object(row)
}

/// A directory as TCA's `ClocDirSerializer` shows it.
fn dir_item(dir_path: &str, parent: &str, sums: Sums, counted: &Counted) -> Value {
    let mut row = Map::new();
    row.insert("id".into(), json!(path_id(&format!("{dir_path}/"))));
    row.extend(counts(sums, counted));
    row.insert("parent_path".into(), json!(parent));
    row.insert("dir_path".into(), json!(dir_path));
    row.insert("file_num".into(), json!(sums.files));
    Value::Object(row)
}

/// The project's last line count, or `None` before its first.
fn counted(
    conn: &rusqlite::Connection,
    project: &crate::domain::project::Project,
) -> Result<Option<Counted>, AppError> {
    Ok(
        db::cloc::latest_counted_job(conn, project.id)?.map(|(_, scan_id)| Counted {
            scan_id,
            project_id: project.id.0,
        }),
    )
}

/// `clocfiles/`: the counted files in path order, filtered by `file_path` (a part of the path)
/// and `change_type` (add, del, mod, comma-separated: none of codepup's files has one).
pub async fn list_cloc_files(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    let query = Query::from_request(&request);
    let tz = state.config.tz_offset;
    let (query, page, count, results) =
        visible_project(&state, caller, path, move |conn, project, _| {
            let mut reader = FilterReader::new(&query, tz);
            let change_types = reader.text("change_type");
            if let Some(bad) = change_types.as_deref().and_then(|types| {
                types
                    .split(',')
                    .map(str::trim)
                    .find(|piece| !CHANGE_TYPES.contains(piece))
            }) {
                let message =
                    format!("Select a valid choice. {bad} is not one of the available choices.");
                reader.fail("change_type", &message);
            }
            reader.finish()?;
            let page = query.page()?;
            let Some(counted) = counted(conn, project)?.filter(|_| change_types.is_none()) else {
                return Ok((query, page, 0, Vec::new()));
            };
            let (count, files) = db::cloc::files(
                conn,
                project.id,
                query.get("file_path"),
                (page.limit, page.offset),
            )?;
            let results = files.iter().map(|file| file_item(file, &counted)).collect();
            Ok((query, page, count, results))
        })
        .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}

/// `clocfiles/<id>/`: one counted file of the last line count.
pub async fn get_cloc_file(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64, i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org, team, repo, project, file_id) = path.into_inner();
    let path = web::Path::from((org, team, repo, project));
    let item = visible_project(&state, caller, path, move |conn, project, _| {
        let mut found = None;
        if let Some(counted) = counted(conn, project)? {
            db::cloc::for_each_file_below(conn, project.id, "", |file| {
                if found.is_none() && path_id(&file.path) == file_id {
                    found = Some(file_item(&file, &counted));
                }
            })?;
        }
        found.ok_or_else(|| AppError::not_found(format!("file {file_id}")))
    })
    .await?;
    Ok(envelope::ok(item))
}

/// `clocs/?path=<dir>`: the directory's subdirectories and files, each with its counts, and
/// `info`, the sums over everything below it (TCA's `ClocDirFileListView`).
pub async fn list_cloc_dirs(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    let query = Query::from_request(&request);
    let dir = query
        .get("path")
        .unwrap_or_default()
        .trim_matches('/')
        .to_string();
    let listing = visible_project(&state, caller, path, move |conn, project, _| {
        let counted = counted(conn, project)?;
        let mut dirs: BTreeMap<String, Sums> = BTreeMap::new();
        let mut files = Vec::new();
        let mut total = Sums::default();
        if let Some(counted) = &counted {
            db::cloc::for_each_file_below(conn, project.id, &dir, |file| {
                total.add(&file);
                let rest = file.path[dir.len()..].trim_start_matches('/');
                match rest.split_once('/') {
                    Some((child, _)) => dirs.entry(child.to_string()).or_default().add(&file),
                    None => files.push(file_item(&file, counted)),
                }
            })?;
        }
        let dirs: Vec<Value> = match &counted {
            Some(counted) => dirs
                .into_iter()
                .map(|(child, sums)| {
                    let full = if dir.is_empty() {
                        child
                    } else {
                        format!("{dir}/{child}")
                    };
                    dir_item(&full, &dir, sums, counted)
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(json!({
            "dirs": {"count": dirs.len(), "results": dirs},
            "files": {"count": files.len(), "results": files},
            "info": {
                "dir_path": dir,
                "file_num": total.files,
                "code_line_num": total.code,
                "comment_line_num": total.comment,
                "blank_line_num": total.blank,
                "total_line_num": total.code + total.comment + total.blank,
            },
        }))
    })
    .await?;
    Ok(envelope::ok(listing))
}

/// `cloclangs/`: the last line count per language, most code first.
pub async fn list_cloc_langs(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    let query = Query::from_request(&request);
    let (query, page, count, results) =
        visible_project(&state, caller, path, move |conn, project, _| {
            let page = query.page()?;
            let Some((job_id, scan_id)) = db::cloc::latest_counted_job(conn, project.id)? else {
                return Ok((query, page, 0, Vec::new()));
            };
            let counted = Counted {
                scan_id,
                project_id: project.id.0,
            };
            let (count, languages) = db::cloc::languages(conn, job_id, (page.limit, page.offset))?;
            let results = languages
                .into_iter()
                .map(|language| {
                    let sums = Sums {
                        code: language.code,
                        comment: language.comment,
                        blank: language.blank,
                        files: language.files,
                    };
                    let mut row = Map::new();
                    row.insert("id".into(), json!(language.id));
                    row.extend(counts(sums, &counted));
                    row.insert("name".into(), json!(language.name));
                    row.insert("file_num".into(), json!(language.files));
                    Value::Object(row)
                })
                .collect();
            Ok((query, page, count, results))
        })
        .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}
