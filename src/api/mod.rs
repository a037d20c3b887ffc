//! The URL table of the JSON API, each route with its description (`table.rs`), and the lookups
//! every handler shares.
//! Handlers hold no SQL: each makes one `blocking::run` call whose closure resolves the URL's objects,
//! checks permission and does the work.

pub mod blocking;
pub mod cloc;
pub mod codemetric;
pub mod credential;
pub mod findings;
pub mod hooks;
pub mod jobs;
pub mod lint_export;
pub mod metric_detail;
pub mod metric_scans;
pub mod metric_triage;
pub mod nodes;
pub mod notify;
pub mod openapi;
pub mod ops;
pub mod orgs;
pub mod overview;
pub mod projects;
pub mod query;
pub mod repos;
pub mod rules;
pub mod scans;
pub mod schedules;
pub mod schemes;
pub mod table;
pub mod tasks;
pub mod teams;
pub mod trends;
pub mod triage;
pub mod users;
pub mod views;

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use rusqlite::Connection;

use crate::db;
use crate::domain::access::Access;
use crate::domain::ids::{JobId, ProjectId, RepoId};
use crate::domain::job::Job;
use crate::domain::org::{Org, Team};
use crate::domain::project::Project;
use crate::domain::repo::Repo;
use crate::domain::user::User;
use crate::error::AppError;
use crate::AppState;
use table::{at, doc, Answer, BodyField, Mount, Table};

/// The project job lists' filters (TCA's `JobFilterSetV3`; also `v3/jobs/`'s).
const JOB_FILTERS: &[BodyField] = &[
    ("project", "integer"),
    ("state", "string"),
    ("result_code_gte", "integer"),
    ("result_code_lte", "integer"),
    ("result_msg", "string"),
    ("created_from", "string"),
    ("creator", "string"),
    ("create_time_gte", "string"),
    ("create_time_lte", "string"),
];

/// What the admin job list (TCA's `JobFilterSet`, `v2/jobs/`) reads besides `JOB_FILTERS`.
const ADMIN_JOB_FILTERS: &[BodyField] = &[
    ("repo", "integer"),
    ("scm_url", "string"),
    ("end_time_gte", "string"),
    ("end_time_lte", "string"),
];

/// A cancel's body: `remarks`, and `force` (read; a cancel always stops the job).
const CANCEL: &[BodyField] = &[("remarks", "string"), ("force", "boolean")];

/// The task list's filters.
const TASK_FILTERS: &[BodyField] = &[
    ("job", "integer"),
    ("state", "string"),
    ("task_name", "string"),
    ("result_code_gte", "integer"),
    ("result_code_lte", "integer"),
    ("result_msg", "string"),
    ("created_from", "string"),
    ("create_time_gte", "string"),
    ("create_time_lte", "string"),
    ("start_time_gte", "string"),
    ("start_time_lte", "string"),
    ("end_time_gte", "string"),
    ("end_time_lte", "string"),
];

/// The whole URL table, with each route's description (`api::table`). The API answers under its
/// prefixes: `/server/main/api` as clients call it behind TCA's proxy, `/main/api` behind TCA's
/// stock nginx (which strips `/server/`), and `/api` for a proxy that strips more. The analysis
/// and credential services answer likewise with and without `/server`. The document shows the
/// `/server/...` prefixes only.
pub(crate) fn table() -> Table {
    let mut table = Table::default();
    table
        .add(at("/healthz").get(
            ops::healthz,
            doc("healthz", "The process serves").anonymous(),
        ))
        .add(
            at("/readyz").get(
                ops::readyz,
                doc(
                    "readyz",
                    "The database takes a write and every scan worker is alive",
                )
                .anonymous(),
            ),
        )
        .scopes(
            &["/server/credential/api/v3", "/credential/api/v3"],
            credential_routes,
        )
        .scopes(&["/server/main/api", "/main/api", "/api"], main_routes)
        .scopes(&["/server/analysis/api", "/analysis/api"], |table| {
            table
                .mount(Mount::scope("/v3/orgs", "v3"), scan_routes)
                .mount(Mount::scope("/orgs", ""), |table| {
                    analysis_routes(table);
                    scan_routes(table);
                });
        });
    crate::web::routes(&mut table);
    table
}

/// Registers the table with actix.
pub fn routes(cfg: &mut web::ServiceConfig) {
    table().register(cfg, "");
}

/// The main service: users, the job lists across projects, and everything below `orgs/`.
fn main_routes(table: &mut Table) {
    table
        .add(
            at("/openapi.json").get(
                openapi::get_document,
                doc(
                    "get_openapi",
                    "This document (OpenAPI 3.1), not an envelope",
                )
                .anonymous()
                .answers(Answer::Json),
            ),
        )
        .mount(Mount::scope("/v2", ""), admin_routes)
        .mount(Mount::scope("/v3", ""), user_routes)
        .mount(Mount::scope("/orgs", ""), org_routes)
        // Forges deliver here, without a token: the signature is the credential.
        .add(
            at("/hooks/{hook_key}/").post(
                hooks::receive_delivery,
                doc(
                    "receive_delivery",
                    "A forge's push delivery, signed with the hook's secret",
                )
                .anonymous(),
            ),
        );
}

/// The superuser's admin pages (TCA's `tca-manage`), below `v2/`.
fn admin_routes(table: &mut Table) {
    table
        .add(
            at("/jobs/").get(
                jobs::list_all_jobs,
                doc("list_all_jobs", "Every job (superusers)")
                    .page()
                    .query(JOB_FILTERS)
                    .query(ADMIN_JOB_FILTERS),
            ),
        )
        .add(
            at("/jobs/tasks/").get(
                tasks::list_all_tasks,
                doc("list_all_tasks", "Every task (superusers)")
                    .page()
                    .query(TASK_FILTERS),
            ),
        )
        .add(
            at("/jobs/{job_id:\\d+}/cancel/").post(
                jobs::cancel_any_job,
                doc(
                    "cancel_any_job",
                    "Cancel a job by id (superusers, and whoever may see its project)",
                )
                .body(CANCEL),
            ),
        );
}

/// The caller, users, the lists across projects, and `v3/orgs/`.
fn user_routes(table: &mut Table) {
    table
        .add(
            at("/users/").post(
                users::create_user,
                doc("create_user", "A new user and their token (superusers)")
                    .created()
                    .body(&[
                        ("username", "string"),
                        ("nickname", "string"),
                        ("is_superuser", "boolean"),
                        ("password", "string"),
                    ]),
            ),
        )
        .add(
            at("/authen/userinfo/")
                .get(users::get_userinfo, doc("get_userinfo", "The caller"))
                .put(
                    credential::update_userinfo,
                    doc("update_userinfo", "Change the caller's nickname")
                        .body(&[("nickname", "string")]),
                ),
        )
        .add(
            at("/authen/userinfo/password/").put(
                credential::set_own_password,
                doc("set_own_password", "Change the caller's password")
                    .body(&[("old_password", "string"), ("password", "string")]),
            ),
        )
        .add(at("/authen/userinfo/token/").put(
            users::rotate_token,
            doc("rotate_token", "A fresh token for the caller"),
        ))
        .add(
            at("/jobs/").get(
                jobs::list_recent_jobs,
                doc(
                    "list_recent_jobs",
                    "Jobs of every project the caller may see",
                )
                .page()
                .query(JOB_FILTERS),
            ),
        )
        .add(at("/jobs/summary/").get(
            jobs::get_queue_summary,
            doc("get_queue_summary", "The queue, counted"),
        ))
        .add(at("/projects/").get(
            projects::list_visible_projects,
            doc("list_visible_projects", "Projects the caller may see").page(),
        ))
        .mount(Mount::scope("/orgs", "v3"), org_routes);
}

/// TCA's credential service, as its login page calls it.
fn credential_routes(table: &mut Table) {
    table
        .add(
            at("/login/get_oapassword_info/").post(
                credential::sign_in,
                doc("sign_in", "Sign in with a user name and password")
                    .anonymous()
                    .body(&[("username", "string"), ("password", "string")]),
            ),
        )
        .add(
            at("/login/user/")
                .get(
                    credential::get_signed_in_user,
                    doc("get_signed_in_user", "The signed-in user"),
                )
                .put(
                    credential::update_signed_in_user,
                    doc(
                        "update_signed_in_user",
                        "Change the signed-in user's nickname",
                    )
                    .body(&[("nickname", "string")]),
                ),
        );
}

const PROJECT: &str =
    "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}";

/// The scan history and the branch overview's cards, on TCA's analysis paths under both
/// `orgs/` and `v3/orgs/` (the UI calls v3).
fn scan_routes(table: &mut Table) {
    table
        .add(
            at(format!("{PROJECT}/overview/lintscans/")).get(
                overview::list_nothing_yet,
                doc(
                    "list_lint_scans",
                    "An empty page: codepup keeps no such data yet",
                )
                .page(),
            ),
        )
        .add(
            at(format!("{PROJECT}/overview/cycscans/")).get(
                metric_scans::list_scan_summaries::<{ metric_scans::CYC_SCANS }>,
                doc(
                    "list_cyc_scans",
                    "Each complexity measure beside the one before",
                )
                .page(),
            ),
        )
        .add(
            at(format!("{PROJECT}/overview/dupscans/")).get(
                metric_scans::list_scan_summaries::<{ metric_scans::DUP_SCANS }>,
                doc(
                    "list_dup_scans",
                    "Each duplicate-code measure beside the one before",
                )
                .page(),
            ),
        )
        .add(at(format!("{PROJECT}/overview/clocscans/")).get(
            metric_scans::list_scan_summaries::<{ metric_scans::CLOC_SCANS }>,
            doc("list_cloc_scans", "Each line count beside the one before").page(),
        ));
    codemetric_routes(table);
    table
        .add(at(format!("{PROJECT}/overview/lintscans/latest/")).get(
            overview::get_latest_lint_overview,
            doc("get_latest_lint_overview", "The latest lint scan's summary"),
        ))
        .add(at(format!("{PROJECT}/overview/mine/")).get(
            overview::get_my_overview,
            doc("get_my_overview", "The caller's findings in the project"),
        ))
        .add(at(format!("{PROJECT}/scans/")).get(
            scans::list_scans,
            doc("list_scans", "The project's scan history").page(),
        ))
        .add(
            at(format!("{PROJECT}/scans/{{scan_id:\\d+}}/"))
                .get(scans::get_scan, doc("get_scan", "One scan of the history")),
        );
}

/// TCA's analysis API (lint findings and the project overview), below `orgs/`.
fn analysis_routes(table: &mut Table) {
    table
        .add(at(format!("{PROJECT}/codelint/issues/")).get(
            findings::list_issues,
            doc("list_issues", "The project's findings").page(),
        ))
        .add(
            at(format!("{PROJECT}/codelint/issues/{{issue_id:\\d+}}/"))
                .get(findings::get_issue, doc("get_issue", "One finding")),
        )
        .add(at(format!("{PROJECT}/overview/")).get(
            findings::get_overview,
            doc("get_overview", "The project's overview"),
        ));
    triage_routes(table);
}

/// Triage (issue 11): TCA's codelint endpoints that change findings, their history, and the
/// per-scan finding list. TCA's views answer PUT; its documents say POST: both are served.
fn triage_routes(table: &mut Table) {
    const ISSUES: &str = "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}/codelint/issues";
    const ISSUE: &str = "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}/codelint/issues/{issue_id:\\d+}";
    table
        .add(at(format!("{ISSUES}/resolution/")).put(
            triage::bulk_update_resolution,
            doc("bulk_update_resolution", "Resolve many findings").body(&[
                ("issue_ids", "array"),
                ("all", "boolean"),
                ("resolution", "integer"),
                ("scope", "integer"),
                ("ignore_reason", "string"),
            ]),
        ))
        .add(at(format!("{ISSUES}/author/")).put(
            triage::bulk_update_author,
            doc("bulk_update_author", "Give many findings an author").body(&[
                ("issue_ids", "array"),
                ("all", "boolean"),
                ("author", "string"),
            ]),
        ))
        .add(at(format!("{ISSUES}/authors/")).get(
            triage::list_issue_authors,
            doc("list_issue_authors", "The findings' authors").list(),
        ))
        .add(at(format!("{ISSUES}/download/")).get(
            lint_export::download_issues,
            doc("download_issues", "The findings the filters keep, as CSV").answers(Answer::Csv),
        ))
        .add(at(format!("{ISSUES}/checkrules/")).get(
            lint_export::list_rule_counts,
            doc("list_rule_counts", "Findings counted by rule").list(),
        ))
        .mount(Mount::group(ISSUE, ""), issue_routes)
        .add(
            at(format!("{PROJECT}/codelint/scans/{{scan_id:\\d+}}/issues/")).get(
                triage::list_scan_issues,
                doc("list_scan_issues", "The findings one scan saw").page(),
            ),
        );
}

/// One finding's triage: TCA's views answer PUT, its documents say POST; both are served.
fn issue_routes(table: &mut Table) {
    const RESOLUTION: &[BodyField] = &[
        ("resolution", "integer"),
        ("scope", "integer"),
        ("ignore_reason", "string"),
    ];
    table
        .add(
            at("/resolution/")
                .put(
                    triage::update_issue_resolution,
                    doc("update_issue_resolution", "Resolve a finding").body(RESOLUTION),
                )
                .post(
                    triage::update_issue_resolution,
                    doc(
                        "update_issue_resolution_post",
                        "Resolve a finding (POST, as TCA's documents say)",
                    )
                    .body(RESOLUTION),
                ),
        )
        .add(
            at("/severity/")
                .put(
                    triage::update_issue_severity,
                    doc("update_issue_severity", "Set a finding's severity")
                        .body(&[("severity", "integer")]),
                )
                .post(
                    triage::update_issue_severity,
                    doc(
                        "update_issue_severity_post",
                        "Set a finding's severity (POST)",
                    )
                    .body(&[("severity", "integer")]),
                ),
        )
        .add(
            at("/author/")
                .put(
                    triage::update_issue_author,
                    doc("update_issue_author", "Set a finding's author")
                        .body(&[("author", "string")]),
                )
                .post(
                    triage::update_issue_author,
                    doc("update_issue_author_post", "Set a finding's author (POST)")
                        .body(&[("author", "string")]),
                ),
        )
        .add(
            at("/comments/")
                .get(
                    triage::list_issue_comments,
                    doc("list_issue_comments", "A finding's history").page(),
                )
                .post(
                    triage::create_issue_comment,
                    doc("create_issue_comment", "Comment on a finding")
                        .created()
                        .body(&[("message", "string")]),
                ),
        );
}

/// TCA's code-metrics paths (`codemetric/api_urls/v1_pt.py`), for the latest measure and per scan.
fn codemetric_routes(table: &mut Table) {
    const METRIC: &str =
        "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}/codemetric";
    for (scope, tag) in [("", ""), ("/scans/{scan_id:\\d+}", "scan")] {
        table.mount(Mount::group(&format!("{METRIC}{scope}"), tag), |table| {
            table
                .add(at("/ccissues/").get(
                    codemetric::list::<{ codemetric::CC_ISSUES }>,
                    doc("list_cc_issues", "Complex functions").page(),
                ))
                .add(at("/ccfiles/").get(
                    codemetric::list::<{ codemetric::CC_FILES }>,
                    doc("list_cc_files", "Files with complex functions").page(),
                ))
                .add(at("/ccfiles/{file_id:\\d+}/ccissues/").get(
                    codemetric::list::<{ codemetric::CC_ISSUES }>,
                    doc("list_cc_file_issues", "A file's complex functions").page(),
                ))
                .add(at("/dupfiles/").get(
                    codemetric::list::<{ codemetric::DUP_FILES }>,
                    doc("list_dup_files", "Files with duplicate code").page(),
                ));
        });
    }
    table
        .add(at(format!("{METRIC}/dupfiles/{{file_id:\\d+}}/")).get(
            codemetric::get_dup_file,
            doc("get_dup_file", "A file's duplicate code"),
        ))
        .add(
            at(format!("{METRIC}/dupfiles/{{file_id:\\d+}}/blocks/")).get(
                codemetric::list::<{ codemetric::DUP_BLOCKS }>,
                doc("list_dup_blocks", "A file's duplicate blocks").page(),
            ),
        );
    metric_detail_routes(table, METRIC);
    metric_triage_routes(table, METRIC);
    cloc_routes(table, METRIC);
}

/// One complexity or duplicate-code row, and the histories.
fn metric_detail_routes(table: &mut Table, metric: &str) {
    table
        .add(at(format!("{metric}/ccfiles/{{file_id:\\d+}}/")).get(
            metric_detail::get_cc_row::<false>,
            doc("get_cc_file", "A file with complex functions"),
        ))
        .add(at(format!("{metric}/ccissues/history/")).get(
            codemetric::list::<{ codemetric::CC_HISTORY }>,
            doc("list_cc_history", "Complex functions across measures").page(),
        ))
        .add(at(format!("{metric}/ccissues/{{issue_id:\\d+}}/")).get(
            metric_detail::get_cc_row::<true>,
            doc("get_cc_issue", "One complex function"),
        ))
        .add(
            at(format!("{metric}/dupfiles/{{file_id:\\d+}}/history/")).get(
                metric_detail::list_dup_file_history,
                doc(
                    "list_dup_file_history",
                    "A file's duplicate code across measures",
                )
                .page(),
            ),
        )
        .add(
            at(format!(
                "{metric}/dupfiles/{{file_id:\\d+}}/blocks/{{block_id:\\d+}}/"
            ))
            .get(
                metric_detail::get_dup_block::<false>,
                doc("get_dup_block", "One duplicate block"),
            ),
        )
        .add(
            at(format!(
                "{metric}/dupfiles/{{file_id:\\d+}}/blocks/{{block_id:\\d+}}/related/"
            ))
            .get(
                metric_detail::get_dup_block::<true>,
                doc("list_related_blocks", "The copies of one block").page(),
            ),
        );
}

/// Marks on complex functions and duplicate-code issues (the lint-triage permission).
fn metric_triage_routes(table: &mut Table, metric: &str) {
    table
        .add(
            at(format!("{metric}/ccissues/status/")).put(
                metric_triage::update_cc_status,
                doc("update_cc_status", "Set complex functions' status")
                    .body(&[("ccissue_ids", "array"), ("status", "integer")]),
            ),
        )
        .add(
            at(format!("{metric}/ccissues/{{issue_id:\\d+}}/author/")).put(
                metric_triage::update_cc_author,
                doc("update_cc_author", "Set a complex function's author")
                    .body(&[("author", "string")]),
            ),
        )
        .add(
            at(format!("{metric}/dupissues/{{issue_id:\\d+}}/state/")).put(
                metric_triage::update_dup_state,
                doc("update_dup_state", "Set a duplicate-code issue's state")
                    .body(&[("state", "integer")]),
            ),
        )
        .add(
            at(format!("{metric}/dupissues/{{issue_id:\\d+}}/owner/")).put(
                metric_triage::update_dup_owner,
                doc("update_dup_owner", "Set a duplicate-code issue's owner")
                    .body(&[("owner", "string"), ("all", "boolean")]),
            ),
        )
        .add(
            at(format!("{metric}/dupissues/{{issue_id:\\d+}}/comments/")).get(
                metric_triage::list_dup_comments,
                doc("list_dup_comments", "A duplicate-code issue's history").page(),
            ),
        );
}

/// Line counts per file, directory and language, from the last line count.
fn cloc_routes(table: &mut Table, metric: &str) {
    table
        .add(at(format!("{metric}/clocfiles/")).get(
            cloc::list_cloc_files,
            doc("list_cloc_files", "Line counts per file").page(),
        ))
        .add(at(format!("{metric}/clocfiles/{{file_id:\\d+}}/")).get(
            cloc::get_cloc_file,
            doc("get_cloc_file", "One file's line counts"),
        ))
        .add(at(format!("{metric}/clocs/")).get(
            cloc::list_cloc_dirs,
            doc(
                "list_cloc_dirs",
                "Line counts of a directory and its children",
            ),
        ))
        .add(at(format!("{metric}/cloclangs/")).get(
            cloc::list_cloc_langs,
            doc("list_cloc_langs", "Line counts per language").page(),
        ));
}

/// A scheme's rule configuration and path filters (issue 11), on TCA's paths.
fn rules_routes(table: &mut Table) {
    const SCHEME: &str =
        "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/schemes/{scheme_id:\\d+}";
    const RULES: &[BodyField] = &[("checktool", "string"), ("checkrules", "array")];
    const SCANDIR: &[BodyField] = &[
        ("dir_path", "string"),
        ("path_type", "integer"),
        ("scan_type", "integer"),
    ];
    table
        .add(at(format!("{SCHEME}/checkrules/")).get(
            rules::list_rules,
            doc("list_rules", "The scheme's rules").list(),
        ))
        .add(at(format!("{SCHEME}/checkprofile/rules/modifystate/")).put(
            rules::modify_rule_state,
            doc("modify_rule_state", "Turn rules on or off").body(RULES),
        ))
        .add(
            at(format!("{SCHEME}/checkprofile/rules/modifyseverity/")).put(
                rules::modify_rule_severity,
                doc("modify_rule_severity", "Set rules' severity").body(RULES),
            ),
        )
        .add(at(format!("{SCHEME}/checkprofile/rules/delete/")).delete(
            rules::reset_rules,
            doc("reset_rules", "Rules back to their defaults").body(RULES),
        ))
        .add(
            at(format!("{SCHEME}/scandirs/"))
                .get(
                    rules::list_scandirs,
                    doc("list_scandirs", "The scheme's path filters").page(),
                )
                .post(
                    rules::create_scandir,
                    doc("create_scandir", "A new path filter")
                        .created()
                        .body(SCANDIR),
                ),
        )
        .add(at(format!("{SCHEME}/scandirs/bulkcreate/")).post(
            rules::bulk_create_scandirs,
            doc("bulk_create_scandirs", "Path filters in bulk").body(&[("scandirs", "array")]),
        ))
        .add(at(format!("{SCHEME}/scandirs/clear/")).delete(
            rules::clear_scandirs,
            doc("clear_scandirs", "Remove every path filter").empty(),
        ))
        .add(
            at(format!("{SCHEME}/scandirs/{{dir_id:\\d+}}/"))
                .get(rules::get_scandir, doc("get_scandir", "One path filter"))
                .put(
                    rules::update_scandir,
                    doc("update_scandir", "Change a path filter").body(SCANDIR),
                )
                .delete(
                    rules::delete_scandir,
                    doc("delete_scandir", "Remove a path filter").empty(),
                ),
        );
}

/// Everything below `orgs/`, served under both `orgs/` (TCA's v1 open API) and `v3/orgs/`.
fn org_routes(table: &mut Table) {
    const TEAM: &str = "/{org_sid}/teams/{team_name}";
    const START: &[BodyField] = &[
        ("incr_scan", "boolean"),
        ("async_flag", "boolean"),
        ("force_create", "boolean"),
        ("created_from", "string"),
    ];
    // First: clients start scans in bulk, and actix tries the resources in order, each a regex
    // match of the path (the access log matches the path once more for its route label). The
    // patterns never match the same path, so order changes nothing else.
    table
        .add(at(format!("{PROJECT}/scans/create/")).post(
            jobs::create_scan,
            doc("create_scan", "Start a scan of the project").body(START),
        ))
        // TCA's UI starts scans here (`createJob`); the same handler as `scans/create/`.
        .add(at(format!("{PROJECT}/scans/")).post(
            jobs::create_scan,
            doc("create_scan_ui", "Start a scan (TCA's UI's path)").body(START),
        ))
        .add(
            at("/")
                .get(
                    orgs::list_orgs,
                    doc("list_orgs", "The orgs the caller belongs to").page(),
                )
                .post(
                    orgs::create_org,
                    doc("create_org", "A new org").created().body(&[
                        ("name", "string"),
                        ("org_sid", "string"),
                        ("description", "string"),
                    ]),
                ),
        )
        .add(at("/{org_sid}/").get(orgs::get_org, doc("get_org", "One org")))
        .add(
            at("/{org_sid}/memberconf/")
                .get(
                    orgs::list_org_members,
                    doc("list_org_members", "The org's admins and users"),
                )
                .post(
                    orgs::add_org_members,
                    doc("add_org_members", "Add members to the org")
                        .body(&[("users", "array"), ("role", "integer")]),
                ),
        )
        .add(at("/{org_sid}/schemes/").get(
            schemes::list_templates,
            doc("list_templates", "The org's scheme templates").page(),
        ))
        .add(
            at("/{org_sid}/repos/").get(
                repos::list_org_repos,
                doc(
                    "list_org_repos",
                    "The org's repositories the caller may see",
                )
                .page(),
            ),
        )
        .add(at("/{org_sid}/nodes/").get(
            nodes::list_nodes,
            doc("list_nodes", "The org's analysis nodes: this server").page(),
        ))
        .add(at("/{org_sid}/nodes/tags/").get(
            nodes::list_node_tags,
            doc("list_node_tags", "The nodes' tags").page(),
        ));
    team_routes(table);
    repo_routes(table);
    job_routes(table);
    // Notifications out (issue 10): the same resources at org, team and project level.
    for (level, tag) in [("/{org_sid}", "org"), (TEAM, "team"), (PROJECT, "project")] {
        table.mount(Mount::group(level, tag), notify_routes);
    }
}

/// An org's teams and their members.
fn team_routes(table: &mut Table) {
    const TEAM: &str = "/{org_sid}/teams/{team_name}";
    table
        .add(
            at("/{org_sid}/teams/")
                .get(
                    teams::list_teams,
                    doc("list_teams", "The org's teams").list(),
                )
                .post(
                    teams::create_team,
                    doc("create_team", "A new team").created().body(&[
                        ("name", "string"),
                        ("display_name", "string"),
                        ("description", "string"),
                    ]),
                ),
        )
        .add(at(format!("{TEAM}/")).get(teams::get_team, doc("get_team", "One team")))
        .add(
            at(format!("{TEAM}/memberconf/"))
                .get(
                    teams::list_team_members,
                    doc("list_team_members", "The team's admins and users"),
                )
                .post(
                    teams::add_team_members,
                    doc("add_team_members", "Add members to the team")
                        .body(&[("users", "array"), ("role", "integer")]),
                ),
        );
}

/// A repository's scan schemes, their rules and path filters.
fn scheme_routes(table: &mut Table) {
    const REPO: &str = "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}";
    // The quality gate's thresholds: the body of `gateconf/`, and part of a new scheme's.
    const GATE: [BodyField; 4] = [
        ("gate_max_new_errors", "integer"),
        ("gate_no_new_secrets", "boolean"),
        ("gate_max_new_complex", "integer"),
        ("gate_max_dup_rate", "number"),
    ];
    const SCHEME_SETTINGS: [BodyField; 11] = [
        ("name", "string"),
        ("description", "string"),
        ("tools", "array"),
        ("lint_enabled", "boolean"),
        ("cc_scan_enabled", "boolean"),
        ("dup_scan_enabled", "boolean"),
        ("cloc_scan_enabled", "boolean"),
        ("blame_enabled", "boolean"),
        ("languages", "array"),
        ("min_ccn", "integer"),
        ("job_runtime_limit", "integer"),
    ];
    const SCHEME: [BodyField; 15] = table::joined(SCHEME_SETTINGS, GATE);
    table
        .add(
            at(format!("{REPO}/initscheme/")).post(
                schemes::create_scheme,
                doc("create_scheme", "A new scan scheme")
                    .created()
                    .body(&SCHEME),
            ),
        )
        .add(at(format!("{REPO}/schemes/")).get(
            schemes::list_schemes,
            doc("list_schemes", "The repository's schemes").page(),
        ))
        .add(
            at(format!("{REPO}/schemes/{{scheme_id:\\d+}}/"))
                .get(schemes::get_scheme, doc("get_scheme", "One scheme")),
        );
    rules_routes(table);
    table
        .add(
            at(format!("{REPO}/schemes/{{scheme_id:\\d+}}/lintconf/")).get(
                schemes::get_lint_conf,
                doc("get_lint_conf", "A scheme's lint settings"),
            ),
        )
        .add(
            at(format!("{REPO}/schemes/{{scheme_id:\\d+}}/metricconf/")).get(
                schemes::get_metric_conf,
                doc("get_metric_conf", "A scheme's metric settings"),
            ),
        )
        .add(
            at(format!("{REPO}/schemes/{{scheme_id:\\d+}}/gateconf/"))
                .get(
                    schemes::get_gate_conf,
                    doc("get_gate_conf", "A scheme's quality-gate thresholds"),
                )
                .put(
                    schemes::update_gate_conf,
                    doc(
                        "update_gate_conf",
                        "Change a scheme's quality-gate thresholds",
                    )
                    .body(&GATE),
                ),
        );
}

/// A repository's projects.
fn project_routes(table: &mut Table) {
    const REPO: &str = "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}";
    const PROJECT_CHANGE: &[BodyField] = &[("scan_scheme_id", "integer"), ("status", "integer")];
    table
        .add(
            at(format!("{REPO}/projects/"))
                .get(
                    projects::list_projects,
                    doc("list_projects", "The repository's projects").page(),
                )
                .post(
                    projects::create_project,
                    doc(
                        "create_project",
                        "A new project: a branch and a scheme (200 when it existed)",
                    )
                    .created()
                    .or_existing()
                    .body(&[
                        ("branch", "string"),
                        ("global_scheme_id", "integer"),
                        ("scan_scheme_id", "integer"),
                        ("scan_path", "string"),
                    ]),
                ),
        )
        .add(
            at(format!("{REPO}/projects/{{project_id:\\d+}}/"))
                .get(projects::get_project, doc("get_project", "One project"))
                .put(
                    projects::update_project,
                    doc("update_project", "Change a project's scheme or status")
                        .body(PROJECT_CHANGE),
                )
                .patch(
                    projects::update_project,
                    doc("patch_project", "Change a project's scheme or status")
                        .body(PROJECT_CHANGE),
                )
                .delete(
                    projects::delete_project,
                    doc("delete_project", "Remove a project; its jobs are cancelled").empty(),
                ),
        );
}

/// A team's repositories, their schemes and projects.
fn repo_routes(table: &mut Table) {
    const REPO: &str = "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}";
    scheme_routes(table);
    project_routes(table);
    table
        .add(
            at("/{org_sid}/teams/{team_name}/repos/")
                .get(
                    repos::list_repos,
                    doc("list_repos", "The team's repositories").page(),
                )
                .post(
                    repos::create_repo,
                    doc("create_repo", "Register a repository")
                        .created()
                        .body(&[
                            ("scm_url", "string"),
                            ("scm_type", "string"),
                            ("name", "string"),
                        ]),
                ),
        )
        .add(at(format!("{REPO}/")).get(repos::get_repo, doc("get_repo", "One repository")))
        .add(at(format!("{REPO}/memberconf/")).get(
            repos::get_repo_members,
            doc("get_repo_members", "Who may work on the repository"),
        ))
        .add(at(format!("{REPO}/branchnames/")).get(
            repos::list_branch_names,
            doc("list_branch_names", "The repository's branch names").page(),
        ))
        .add(at(format!("{REPO}/branches/")).get(
            repos::list_branches,
            doc("list_branches", "The repository's branches").page(),
        ))
        .add(
            at(format!("{REPO}/branch/projects/")).get(
                repos::list_branch_projects,
                doc("list_branch_projects", "A branch's projects")
                    .list()
                    .query(&[("branch", "string"), ("scheme_status", "integer")]),
            ),
        )
        // Push webhooks in (issue 10).
        .add(
            at(format!("{REPO}/webhook/"))
                .get(
                    hooks::get_repo_hook,
                    doc("get_repo_hook", "The repository's push webhook"),
                )
                .post(
                    hooks::create_repo_hook,
                    doc("create_repo_hook", "A push webhook (its secret shown once)").created(),
                )
                .delete(
                    hooks::delete_repo_hook,
                    doc("delete_repo_hook", "Remove the push webhook").empty(),
                ),
        );
}

/// A project's jobs, their tasks, logs and exports, and its schedule.
fn job_routes(table: &mut Table) {
    const JOB: &str = "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}/jobs/{job_id:\\d+}";
    table
        .add(
            at(format!("{PROJECT}/jobs/")).get(
                jobs::list_jobs,
                doc("list_jobs", "The project's jobs")
                    .page()
                    .query(JOB_FILTERS),
            ),
        )
        // The status page's trend charts (codepup's own, issue 11).
        .add(at(format!("{PROJECT}/trends/")).get(
            trends::get_trends,
            doc(
                "get_trends",
                "The project's last scans' measures, for the trend charts",
            ),
        ))
        .add(at(format!("{JOB}/")).get(
            jobs::get_project_job,
            doc(
                "get_project_job",
                "A job with its tasks (TCA's scan detail)",
            ),
        ))
        .add(at(format!("{JOB}/detail/")).get(jobs::get_job_detail, doc("get_job_detail", "A job")))
        .add(at(format!("{JOB}/cancel/")).post(
            jobs::cancel_job,
            doc("cancel_job", "Cancel a job").body(CANCEL),
        ))
        .add(at(format!("{JOB}/codecount/")).get(
            jobs::get_job_codecount,
            doc("get_job_codecount", "A job's line counts"),
        ))
        .add(at(format!("{JOB}/log/")).get(
            jobs::get_job_log,
            doc("get_job_log", "A job's log, from `offset`").answers(Answer::Text),
        ))
        .add(
            at(format!("{JOB}/tasks/{{task_id:\\d+}}/"))
                .get(tasks::get_task, doc("get_task", "A task with its progress")),
        )
        .add(at(format!("{JOB}/tasks/{{task_id:\\d+}}/log/")).get(
            jobs::get_task_log,
            doc("get_task_log", "A task's log, from `offset`").answers(Answer::Text),
        ))
        .add(at(format!("{JOB}/sarif/")).get(
            findings::get_job_sarif,
            doc("get_job_sarif", "A job's findings as SARIF 2.1.0").answers(Answer::Sarif),
        ))
        // Scheduled scans (issue 10).
        .add(
            at(format!("{PROJECT}/schedule/"))
                .get(
                    schedules::get_schedule,
                    doc("get_schedule", "The project's scan schedule"),
                )
                .put(
                    schedules::put_schedule,
                    doc("put_schedule", "Set the project's scan schedule").body(&[
                        ("cron", "string"),
                        ("incr_scan", "boolean"),
                        ("enabled", "boolean"),
                    ]),
                ),
        );
}

/// A level's notification webhooks, their deliveries and redelivery.
fn notify_routes(table: &mut Table) {
    const WEBHOOK: &str = "/webhooks/{webhook_id:\\d+}";
    const DELIVERY: &str = "/webhooks/{webhook_id:\\d+}/deliveries/{delivery_id:\\d+}";
    table
        .add(
            at("/webhooks/")
                .get(
                    notify::list_webhooks,
                    doc(
                        "list_webhooks",
                        "Notification webhooks and whether the caller may manage them",
                    ),
                )
                .post(
                    notify::create_webhook,
                    doc("create_webhook", "A new notification webhook")
                        .created()
                        .body(&[("url", "string"), ("events", "array"), ("format", "string")]),
                ),
        )
        .add(
            at(format!("{WEBHOOK}/"))
                .get(
                    notify::get_webhook,
                    doc("get_webhook", "One notification webhook"),
                )
                .delete(
                    notify::delete_webhook,
                    doc("delete_webhook", "Remove a notification webhook").empty(),
                ),
        )
        .add(at(format!("{WEBHOOK}/deliveries/")).get(
            notify::list_deliveries,
            doc("list_deliveries", "A webhook's deliveries").page(),
        ))
        .add(at(format!("{DELIVERY}/")).get(
            notify::get_delivery,
            doc("get_delivery", "One delivery with its attempts"),
        ))
        .add(at(format!("{DELIVERY}/redeliver/")).post(
            notify::redeliver,
            doc("redeliver", "Send a delivery again").created(),
        ));
}

/// What a resource answers for a method it does not list: 405 with the envelope, and the
/// methods it takes in `Allow`.
pub(crate) fn method_not_allowed(request: &HttpRequest, allowed: &str) -> AppError {
    AppError::MethodNotAllowed {
        method: request.method().to_string(),
        allowed: allowed.to_string(),
    }
}

/// Any path no route matched. A GET without its trailing slash is redirected to the slashed
/// path, as Django's APPEND_SLASH does for TCA; everything else is a 404 envelope.
pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, AppError> {
    let path = request.path();
    let is_api = ["/api/", "/server/", "/main/", "/analysis/", "/credential/"]
        .iter()
        .any(|prefix| path.starts_with(prefix));
    if is_api && !path.ends_with('/') && matches!(*request.method(), Method::GET | Method::HEAD) {
        let query = request.query_string();
        let location = if query.is_empty() {
            format!("{path}/")
        } else {
            format!("{path}/?{query}")
        };
        return Ok(HttpResponse::MovedPermanently()
            .insert_header((header::LOCATION, location))
            .finish());
    }
    Err(AppError::not_found(format!("route {path}")))
}

/// The org and the caller's roles in it, or 404; 403 when the org is not active.
pub(crate) fn org_scope(
    conn: &Connection,
    user: &User,
    org_sid: &str,
) -> Result<(Org, Access), AppError> {
    let (org, access) = db::access::for_org(conn, user, org_sid)?
        .ok_or_else(|| AppError::not_found(format!("org {org_sid}")))?;
    if org.status != 1 {
        return Err(AppError::Forbidden);
    }
    Ok((org, access))
}

/// The team and the caller's roles around it, or 404 (unknown org or team); 403 for an inactive
/// org, and 403 when the caller may not see the team. Every scope below a team goes through here,
/// so nothing below it (repository, project, job, task, scan, finding) is looked up for a caller
/// outside the team: an id that exists and one that does not get the same 403, as TCA's job views
/// answer (their permission class checks the team before the view looks up the job).
pub(crate) fn team_scope(
    conn: &Connection,
    user: &User,
    org_sid: &str,
    team_name: &str,
) -> Result<(Org, Team, Access), AppError> {
    let (org, team, access) = db::access::for_team(conn, user, org_sid, team_name)?
        .ok_or_else(|| AppError::not_found(format!("team {org_sid}/{team_name}")))?;
    if org.status != 1 {
        return Err(AppError::Forbidden);
    }
    require(access.can_view_team())?;
    Ok((org, team, access))
}

/// The team's repository `repo_id` (404 when missing or in another team) with the caller's
/// roles, including whether they registered it.
pub(crate) fn repo_scope(
    conn: &Connection,
    user: &User,
    org_sid: &str,
    team_name: &str,
    repo_id: RepoId,
) -> Result<(Org, Team, Repo, Access), AppError> {
    let (org, team, access) = team_scope(conn, user, org_sid, team_name)?;
    let repo = db::repos::get(conn, team.id, repo_id)?
        .ok_or_else(|| AppError::not_found(format!("repo {repo_id}")))?;
    let access = Access {
        is_repo_creator: repo.creator_id == Some(user.id),
        ..access
    };
    Ok((org, team, repo, access))
}

/// The repository's project `project_id` (404 when missing or in another repository) with the
/// caller's roles.
pub(crate) fn project_scope(
    conn: &Connection,
    user: &User,
    org_sid: &str,
    team_name: &str,
    repo_id: RepoId,
    project_id: ProjectId,
) -> Result<(Org, Team, Repo, Project, Access), AppError> {
    let (org, team, repo, access) = repo_scope(conn, user, org_sid, team_name, repo_id)?;
    let project = db::projects::get(conn, repo.id, project_id)?
        .ok_or_else(|| AppError::not_found(format!("project {project_id}")))?;
    Ok((org, team, repo, project, access))
}

/// The path of a project's URL, as its handlers extract it: org, team, repository id, project id.
pub(crate) type ProjectPath = (String, String, i64, i64);

/// The path of a job's URL: its project's path, then the job id.
pub(crate) type JobPath = (String, String, i64, i64, i64);

/// The project `path` names, with everything around it (`project_scope`: 403 for a caller
/// outside the team, then 404 for what is missing). Enough for a handler that only reads.
pub(crate) fn project_at(
    conn: &Connection,
    caller: &User,
    path: &ProjectPath,
) -> Result<(Org, Team, Repo, Project, Access), AppError> {
    let (org_sid, team_name, repo_id, project_id) = path;
    project_scope(
        conn,
        caller,
        org_sid,
        team_name,
        RepoId(*repo_id),
        ProjectId(*project_id),
    )
}

/// `project_at`, then 403 unless `may` grants the handler's action to the caller's roles on
/// that project (`|access, _| access.can_triage()`).
pub(crate) fn project_allowing(
    conn: &Connection,
    caller: &User,
    path: &ProjectPath,
    may: impl FnOnce(&Access, &Project) -> bool,
) -> Result<(Org, Team, Repo, Project, Access), AppError> {
    let scope = project_at(conn, caller, path)?;
    let (_, _, _, project, access) = &scope;
    require(may(access, project))?;
    Ok(scope)
}

/// Whether `caller` may change or delete `project`: a team admin, or its creator.
pub(crate) fn may_change_project(caller: &User) -> impl Fn(&Access, &Project) -> bool + '_ {
    |access, project| access.can_change_project(project.creator_id == Some(caller.id))
}

/// The job a URL names, with everything around it (403 for a caller outside the team, then 404
/// when any of it is missing). Every job route needs only to see the team (a cancel too, as
/// TCA lets any member cancel), so the caller's roles are not kept.
pub(crate) struct JobScope {
    pub org: Org,
    pub team: Team,
    pub repo: Repo,
    pub project: Project,
    pub job: Job,
}

pub(crate) fn job_scope(
    conn: &Connection,
    caller: &User,
    path: &JobPath,
) -> Result<JobScope, AppError> {
    let (org_sid, team_name, repo_id, project_id, job_id) = path;
    let (org, team, repo, project, _) = project_scope(
        conn,
        caller,
        org_sid,
        team_name,
        RepoId(*repo_id),
        ProjectId(*project_id),
    )?;
    let job = db::jobs::get_in_project(conn, project.id, JobId(*job_id))?
        .ok_or_else(|| AppError::not_found(format!("job {job_id}")))?;
    Ok(JobScope {
        org,
        team,
        repo,
        project,
        job,
    })
}

/// Where the links codepup hands out point: the scheme and host the request came in on (read
/// as the pagination links read them) and the API root it used, `/api` when a proxy stripped
/// `/server/main`, else `/server/main/api`. Made from the request before a `blocking::run`, which
/// cannot take the request itself.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    root: String,
}

impl Links {
    pub(crate) fn new(request: &HttpRequest) -> Links {
        Links {
            root: format!("{}{API_ROOT}", origin(request)),
        }
    }

    /// The URL a forge delivers a repository's pushes to.
    pub(crate) fn hook(&self, hook_key: &str) -> String {
        format!("{}/hooks/{hook_key}/", self.root)
    }

    /// The URL of a task's plain-text log (`.../jobs/<id>/tasks/<id>/log/`), which TCA's
    /// clients know as the task's `log_url`.
    pub(crate) fn task_log(
        &self,
        org_sid: &str,
        team_name: &str,
        repo_id: RepoId,
        project_id: ProjectId,
        task: &crate::domain::job::Task,
    ) -> String {
        format!(
            "{}/orgs/{org_sid}/teams/{team_name}/repos/{repo_id}/projects/{project_id}/jobs/{}/tasks/{}/log/",
            self.root, task.job_id, task.id
        )
    }
}

/// The API root of the links codepup hands out. A request that came
/// in under `/main/api` or `/api` came through a proxy that stripped `/server` or
/// `/server/main` (TCA's stock nginx strips `/server/`), so the client reaches codepup under
/// `/server/main/api`, and so does one that calls codepup directly.
pub(crate) const API_ROOT: &str = "/server/main/api";

/// The request's path as the client reaches it (see `API_ROOT`): the stripped prefixes
/// `/main/`, `/analysis/` and `/credential/` (TCA's nginx) and `/api/` are put back.
pub(crate) fn public_path(request: &HttpRequest) -> String {
    let path = request.path();
    if path.starts_with("/api/") {
        format!("/server/main{path}")
    } else if ["/main/", "/analysis/", "/credential/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
    {
        format!("/server{path}")
    } else {
        path.to_string()
    }
}

/// `scheme://host` as the client reached codepup, for absolute links (`Links`, the pagination
/// links). The forwarding headers (`Forwarded`, `X-Forwarded-Host`, `X-Forwarded-Proto`) are
/// read only when the peer is a proxy the admin trusts (`--trusted-proxy`); from anyone else
/// they would let a request choose the host its links, and a webhook's URL, point to.
pub(crate) fn origin(request: &HttpRequest) -> String {
    if is_from_trusted_proxy(request) {
        let info = request.connection_info();
        return format!("{}://{}", info.scheme(), info.host());
    }
    // What actix's `ConnectionInfo` falls back to without forwarding headers.
    let config = request.app_config();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        })
        .unwrap_or_else(|| config.host());
    let scheme =
        request
            .uri()
            .scheme_str()
            .unwrap_or(if config.secure() { "https" } else { "http" });
    format!("{scheme}://{host}")
}

/// The ranges of the proxies the admin trusts (`--trusted-proxy`) to say who the client is.
fn trusted_proxies(request: &HttpRequest) -> &[crate::config::IpRange] {
    request
        .app_data::<web::Data<AppState>>()
        .map_or(&[], |state| state.config.trusted_proxies.as_slice())
}

fn is_trusted(request: &HttpRequest, address: std::net::IpAddr) -> bool {
    trusted_proxies(request)
        .iter()
        .any(|range| range.contains(address))
}

/// Whether the peer is a proxy the admin trusts (`--trusted-proxy`) to say who the client is.
fn is_from_trusted_proxy(request: &HttpRequest) -> bool {
    request
        .peer_addr()
        .is_some_and(|peer| is_trusted(request, peer.ip()))
}

/// The client's address, for counting failed sign-ins. Behind trusted proxies it is the
/// right-most `X-Forwarded-For` entry that is not a trusted proxy itself: each proxy appends the
/// peer it saw, and what stands to the left of that is the client's own say (nginx's
/// `proxy_add_x_forwarded_for` keeps it). `Forwarded` is not read for this, since nginx passes a
/// client's on unchanged. An entry that is no address ends the walk at the last one read.
pub(crate) fn client_address(request: &HttpRequest) -> Option<String> {
    let mut client = request.peer_addr()?.ip();
    if is_trusted(request, client) {
        let headers = request.headers().get_all("x-forwarded-for");
        let entries: Vec<&str> = headers
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for entry in entries.iter().rev() {
            let entry = entry.trim();
            let parsed = entry.parse().or_else(|_| {
                entry
                    .parse::<std::net::SocketAddr>()
                    .map(|socket| socket.ip())
            });
            let Ok(address) = parsed else { break };
            client = address;
            if !is_trusted(request, address) {
                break;
            }
        }
    }
    Some(client.to_string())
}

/// Fails with 403 unless `allowed`.
pub(crate) fn require(allowed: bool) -> Result<(), AppError> {
    if allowed {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// The project the URL names, once the caller may see its team.
pub(crate) async fn visible_project<T: Send + 'static>(
    state: &web::Data<AppState>,
    caller: User,
    path: web::Path<ProjectPath>,
    then: impl FnOnce(&Connection, &Project, &User) -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    let path = path.into_inner();
    blocking::run(&state.pool, move |conn| {
        let (_, _, _, project, _) = project_at(conn, &caller, &path)?;
        then(conn, &project, &caller)
    })
    .await
}
