//! Code metrics in the database: a job's complexity and duplicate-code results, written in its
//! close transaction, and read back for TCA's `codemetric/` paths. Knows nothing of HTTP.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::ids::{JobId, ProjectId};
use crate::domain::metrics::{
    change_type, match_previous, rate, CcFileSummary, CcFunction, DupReport,
};

/// What a job's lizard task measured, to store with its close.
pub struct CcResults<'a> {
    pub project_id: ProjectId,
    pub job_id: JobId,
    pub revision: &'a str,
    pub threshold: i64,
    /// The functions of the files measured.
    pub functions: &'a [CcFunction],
    /// For an incremental measure, the files it covered (changed and deleted): the project's
    /// other files keep their last measure. `None`: the whole tree was measured.
    pub covered: Option<&'a HashSet<String>>,
}

/// What storing a complexity measure found.
#[derive(Debug, Default)]
pub struct CcRecorded {
    pub over: usize,
    pub new_or_worse: usize,
    pub fixed: usize,
    /// Files whose functions pass the threshold by more than at the last measure.
    pub worse_files: usize,
}

/// Stores a complexity measure: the project's functions become the measured state, and the job
/// gets its files and functions over the threshold, compared with the last measure.
pub fn record_cc(conn: &Connection, results: &CcResults) -> rusqlite::Result<CcRecorded> {
    let previous = project_functions(conn, results.project_id)?;
    let state = new_state(&previous, results);
    replace_functions(conn, results.project_id, &state)?;
    let matched = match_previous(&previous, &state);
    let threshold = results.threshold;
    let mut by_file: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, function) in state.iter().enumerate() {
        if function.ccn > threshold {
            by_file.entry(&function.file_path).or_default().push(index);
        }
    }
    let before_by_file = over_ccns_by_file(&previous, threshold);
    let still_over: HashSet<usize> = by_file
        .values()
        .flatten()
        .filter_map(|&i| matched[i])
        .collect();
    let mut recorded = CcRecorded {
        fixed: previous
            .iter()
            .enumerate()
            .filter(|(index, function)| function.ccn > threshold && !still_over.contains(index))
            .count(),
        ..CcRecorded::default()
    };
    let now = crate::clock::now_stored();
    for (path, indexes) in &by_file {
        let summary = CcFileSummary::of(indexes.iter().map(|&i| state[i].ccn), threshold);
        let before = before_by_file.get(path);
        let before_summary = CcFileSummary::of(before.into_iter().flatten().copied(), threshold);
        let diff = summary.minus(&before_summary);
        let file_change = match before {
            None => change_type::ADDED,
            Some(_) if diff == CcFileSummary::default() => change_type::UNCHANGED,
            Some(_) => change_type::MODIFIED,
        };
        recorded.worse_files += usize::from(diff.over_cc_sum > 0);
        let file_id = insert_cc_file(
            conn,
            results,
            path,
            (&summary, &diff),
            file_change,
            &now,
            &state[indexes[0]],
        )?;
        for &index in indexes {
            let function = &state[index];
            let diff_ccn = matched[index].map(|before| function.ccn - previous[before].ccn);
            let change = match diff_ccn {
                None => change_type::ADDED,
                Some(0) => change_type::UNCHANGED,
                Some(_) => change_type::MODIFIED,
            };
            recorded.new_or_worse += usize::from(diff_ccn.is_none_or(|diff| diff > 0));
            recorded.over += 1;
            insert_cc_issue(conn, results, file_id, function, (diff_ccn, change), &now)?;
        }
    }
    insert_cc_scan(conn, results, &recorded, &state)?;
    Ok(recorded)
}

/// The project's functions after this measure: the last measure of the files it did not
/// cover, and what it measured.
fn new_state(previous: &[CcFunction], results: &CcResults) -> Vec<CcFunction> {
    let mut state: Vec<CcFunction> = match results.covered {
        Some(covered) => previous
            .iter()
            .filter(|function| !covered.contains(&function.file_path))
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    state.extend(results.functions.iter().cloned());
    state
}

/// Each measured file with the complexities of its functions over `threshold` (none, for a
/// file measured whose functions all stay under it).
fn over_ccns_by_file(functions: &[CcFunction], threshold: i64) -> HashMap<&str, Vec<i64>> {
    let mut by_file: HashMap<&str, Vec<i64>> = HashMap::new();
    for function in functions {
        let ccns = by_file.entry(&function.file_path).or_default();
        if function.ccn > threshold {
            ccns.push(function.ccn);
        }
    }
    by_file
}

fn insert_cc_scan(
    conn: &Connection,
    results: &CcResults,
    recorded: &CcRecorded,
    state: &[CcFunction],
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO cc_scans (job_id, project_id, threshold, cc_open_num, diff_cc_num, cc_fix_num,
             worse_cc_file_num, func_num, ccn_sum)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        results.job_id.0,
        results.project_id.0,
        results.threshold,
        recorded.over as i64,
        recorded.new_or_worse as i64,
        recorded.fixed as i64,
        recorded.worse_files as i64,
        state.len() as i64,
        state.iter().map(|function| function.ccn).sum::<i64>(),
    ])?;
    Ok(())
}

fn insert_cc_file(
    conn: &Connection,
    results: &CcResults,
    path: &str,
    (summary, diff): (&CcFileSummary, &CcFileSummary),
    file_change: i64,
    now: &str,
    first: &CcFunction,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO cc_files (job_id, project_id, file_path, language, over_func_cc, over_cc_sum,
             over_cc_avg, over_cc_func_count, diff_over_func_cc, diff_over_cc_sum, diff_over_cc_avg,
             diff_over_cc_func_count, worse, change_type, revision, created_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        results.job_id.0,
        results.project_id.0,
        path,
        first.language,
        summary.over_func_cc,
        summary.over_cc_sum,
        summary.over_cc_avg,
        summary.over_cc_func_count,
        diff.over_func_cc,
        diff.over_cc_sum,
        diff.over_cc_avg,
        diff.over_cc_func_count,
        diff.over_cc_sum > 0,
        file_change,
        results.revision,
        now,
    ])?;
    Ok(conn.last_insert_rowid())
}

fn insert_cc_issue(
    conn: &Connection,
    results: &CcResults,
    file_id: i64,
    function: &CcFunction,
    (diff_ccn, change): (Option<i64>, i64),
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO cc_issues (cc_file_id, job_id, project_id, file_path, func_name, long_name,
             func_param_num, ccn, diff_ccn, change_type, language, token, line_num, code_line_num,
             start_line_no, end_line_no, revision, created_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
        file_id,
        results.job_id.0,
        results.project_id.0,
        function.file_path,
        function.func_name,
        function.long_name,
        function.func_param_num,
        function.ccn,
        diff_ccn,
        change,
        function.language,
        function.token,
        function.line_num,
        function.code_line_num,
        function.start_line_no,
        function.end_line_no,
        results.revision,
        now,
    ])?;
    Ok(())
}

/// The project's functions as last measured.
fn project_functions(
    conn: &Connection,
    project_id: ProjectId,
) -> rusqlite::Result<Vec<CcFunction>> {
    let mut statement = conn.prepare_cached(
        "SELECT file_path, func_name, long_name, func_param_num, ccn, code_line_num, token,
                line_num, start_line_no, end_line_no, language
         FROM cc_functions WHERE project_id = ?1 ORDER BY rowid",
    )?;
    let rows = statement.query_map([project_id.0], |row| {
        Ok(CcFunction {
            file_path: row.get(0)?,
            func_name: row.get(1)?,
            long_name: row.get(2)?,
            func_param_num: row.get(3)?,
            ccn: row.get(4)?,
            code_line_num: row.get(5)?,
            token: row.get(6)?,
            line_num: row.get(7)?,
            start_line_no: row.get(8)?,
            end_line_no: row.get(9)?,
            language: row.get(10)?,
        })
    })?;
    rows.collect()
}

fn replace_functions(
    conn: &Connection,
    project_id: ProjectId,
    state: &[CcFunction],
) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM cc_functions WHERE project_id = ?1")?
        .execute([project_id.0])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO cc_functions (project_id, file_path, func_name, long_name, func_param_num,
             ccn, code_line_num, token, line_num, start_line_no, end_line_no, language)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for function in state {
        insert.execute(params![
            project_id.0,
            function.file_path,
            function.func_name,
            function.long_name,
            function.func_param_num,
            function.ccn,
            function.code_line_num,
            function.token,
            function.line_num,
            function.start_line_no,
            function.end_line_no,
            function.language,
        ])?;
    }
    Ok(())
}

/// Whether job `job_id` measured complexity (an incremental scan on it may then measure only
/// the files that changed).
pub fn measured_cc(conn: &Connection, job_id: JobId) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM cc_scans WHERE job_id = ?1")?
        .query_row([job_id.0], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

/// What a job's jscpd task found, to store with its close.
pub struct DupResults<'a> {
    pub project_id: ProjectId,
    pub job_id: JobId,
    pub revision: &'a str,
    pub report: &'a DupReport,
}

/// One copy of a block in a file, as stored.
struct Block<'a> {
    hash: &'a str,
    tokens: i64,
    start: i64,
    end: i64,
    /// How many copies of this text the tree holds.
    times: i64,
}

/// Stores a duplicate-code run: its totals, each file with copies, and each file's blocks.
pub fn record_dup(conn: &Connection, results: &DupResults) -> rusqlite::Result<()> {
    let report = results.report;
    let blocks = blocks_by_file(report);
    let before = last_dup_lines(conn, results.project_id)?;
    let now = crate::clock::now_stored();
    for file in &report.files {
        let file_blocks = blocks
            .get(file.file_path.as_str())
            .map_or(&[][..], Vec::as_slice);
        let distinct: HashSet<&str> = file_blocks.iter().map(|block| block.hash).collect();
        let change = match before.as_ref().map(|before| before.get(&file.file_path)) {
            Some(None) => Some("add"),
            Some(Some(lines)) if *lines != file.duplicate_line_count => Some("mod"),
            _ => None,
        };
        conn.prepare_cached(
            "INSERT INTO dup_files (job_id, project_id, file_path, language, duplicate_rate,
                 total_line_count, total_duplicate_line_count, distinct_hash_num, block_num,
                 change_type, revision, created_time)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            results.job_id.0,
            results.project_id.0,
            file.file_path,
            file.language,
            rate(file.duplicate_line_count, file.total_line_count),
            file.total_line_count,
            file.duplicate_line_count,
            distinct.len() as i64,
            file_blocks.len() as i64,
            change,
            results.revision,
            now,
        ])?;
        let file_id = conn.last_insert_rowid();
        insert_blocks(conn, results, (file_id, file.total_line_count), file_blocks)?;
    }
    crate::db::metric_triage::sync_dup_issues(conn, results.project_id, results.job_id)?;
    conn.prepare_cached(
        "INSERT INTO dup_scans (job_id, project_id, duplicate_file_count, duplicate_block_count,
             duplicate_line_count, total_line_count, duplicate_rate)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        results.job_id.0,
        results.project_id.0,
        report.files.len() as i64,
        blocks.values().map(Vec::len).sum::<usize>() as i64,
        report.duplicate_line_count,
        report.total_line_count,
        report.duplicate_rate(),
    ])?;
    Ok(())
}

/// Each copy of each block, once, by file; a block's `times` is how many copies of its text
/// the tree holds.
fn blocks_by_file(report: &DupReport) -> BTreeMap<&str, Vec<Block<'_>>> {
    let mut blocks: BTreeMap<&str, Vec<Block>> = BTreeMap::new();
    let mut copies: HashMap<&str, HashSet<(&str, i64, i64)>> = HashMap::new();
    for pair in &report.pairs {
        for copy in [&pair.first, &pair.second] {
            let place = (copy.file_path.as_str(), copy.start_line, copy.end_line);
            if copies.entry(&pair.block_hash).or_default().insert(place) {
                blocks.entry(&copy.file_path).or_default().push(Block {
                    hash: &pair.block_hash,
                    tokens: pair.tokens,
                    start: copy.start_line,
                    end: copy.end_line,
                    times: 0,
                });
            }
        }
    }
    for block in blocks.values_mut().flatten() {
        block.times = copies.get(block.hash).map_or(0, HashSet::len) as i64;
    }
    blocks
}

fn insert_blocks(
    conn: &Connection,
    results: &DupResults,
    (file_id, file_lines): (i64, i64),
    blocks: &[Block],
) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO dup_blocks (dup_file_id, job_id, project_id, block_hash, token_num,
             duplicate_times, duplicate_rate, start_line_num, end_line_num, duplicate_line_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for block in blocks {
        let lines = block.end - block.start + 1;
        insert.execute(params![
            file_id,
            results.job_id.0,
            results.project_id.0,
            block.hash,
            block.tokens,
            block.times,
            rate(lines, file_lines),
            block.start,
            block.end,
            lines,
        ])?;
    }
    Ok(())
}

/// The duplicate lines of each file at the project's last duplicate-code run, if it had one.
fn last_dup_lines(
    conn: &Connection,
    project_id: ProjectId,
) -> rusqlite::Result<Option<HashMap<String, i64>>> {
    let Some(job_id) = latest_job(conn, Metric::Dup, project_id)? else {
        return Ok(None);
    };
    let mut statement = conn.prepare_cached(
        "SELECT file_path, total_duplicate_line_count FROM dup_files WHERE job_id = ?1",
    )?;
    let rows = statement.query_map([job_id.0], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect::<rusqlite::Result<_>>().map(Some)
}

/// Which measure.
#[derive(Debug, Clone, Copy)]
pub enum Metric {
    Cc,
    Dup,
}

/// The project's latest job that stored this measure.
pub fn latest_job(
    conn: &Connection,
    metric: Metric,
    project_id: ProjectId,
) -> rusqlite::Result<Option<JobId>> {
    let sql = match metric {
        Metric::Cc => "SELECT MAX(job_id) FROM cc_scans WHERE project_id = ?1",
        Metric::Dup => "SELECT MAX(job_id) FROM dup_scans WHERE project_id = ?1",
    };
    conn.prepare_cached(sql)?
        .query_row([project_id.0], |row| row.get::<_, Option<i64>>(0))
        .map(|id| id.map(JobId))
}

/// A list of one job's metric rows: which rows, and the filters of TCA's list endpoints.
#[derive(Debug, Default)]
pub struct MetricFilter {
    /// `file_path` contains this.
    pub file_path: Option<String>,
    pub change_types: Option<Vec<String>>,
    /// Only the rows of this file (`ccfiles/<id>/ccissues/`, `dupfiles/<id>/blocks/`).
    pub file_id: Option<i64>,
    /// Only the row with this id (a detail view).
    pub id: Option<i64>,
    /// Complexity rows whose function has one of these statuses (1 needs attention, 2 none).
    pub statuses: Option<Vec<i64>>,
    /// Complexity rows whose function has this author.
    pub author: Option<String>,
    /// Duplicate files whose issue has one of these states (TCA's `issue__state`).
    pub dup_states: Option<Vec<i64>>,
    /// Duplicate files whose issue has this owner (TCA's `issue__owner`).
    pub dup_owner: Option<String>,
    pub ccn_gte: Option<i64>,
    pub ccn_lte: Option<i64>,
    pub worse: Option<bool>,
    pub rate_gte: Option<f64>,
    pub rate_lte: Option<f64>,
}

/// The rows a metric list serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricList {
    CcIssues,
    CcFiles,
    DupFiles,
    DupBlocks,
}

impl MetricList {
    /// The columns, named as TCA's serializers name the fields, in their order.
    fn select(self) -> &'static str {
        match self {
            MetricList::CcIssues => {
                concat!(
                    "id, created_time, ccn, file_path, func_name, func_param_num, long_name,
                     change_type, language, revision, diff_ccn, project_id AS project,
                     (SELECT scan_id FROM jobs WHERE jobs.id = job_id) AS scan_open, token,
                     line_num, code_line_num, start_line_no, end_line_no, cc_file_id, ",
                    crate::db::metric_triage::mark_columns!(),
                    " FROM cc_issues"
                )
            }
            MetricList::CcFiles => {
                "id, created_time, over_func_cc, over_cc_sum, over_cc_avg, over_cc_func_count,
                 diff_over_func_cc, diff_over_cc_sum, diff_over_cc_avg, diff_over_cc_func_count,
                 worse, file_path, change_type, language, revision, project_id AS project,
                 (SELECT scan_id FROM jobs WHERE jobs.id = job_id) AS scan_open FROM cc_files"
            }
            MetricList::DupFiles => {
                "id, created_time, file_path, duplicate_rate, total_line_count,
                 total_duplicate_line_count, distinct_hash_num, block_num, change_type,
                 revision AS scm_revision, language, project_id AS project,
                 (SELECT scan_id FROM jobs WHERE jobs.id = job_id) AS scan,
                 (SELECT json_object('id', d.id, 'state', d.state, 'owner', d.owner)
                  FROM dup_issues d WHERE d.project_id = dup_files.project_id
                    AND d.file_path = dup_files.file_path) AS issue FROM dup_files"
            }
            MetricList::DupBlocks => {
                "id, project_id, (SELECT scan_id FROM jobs WHERE jobs.id = job_id) AS scan_id, block_hash, token_num, duplicate_times,
                 duplicate_rate, start_line_num, end_line_num, duplicate_line_count,
                 dup_file_id AS duplicate_file FROM dup_blocks"
            }
        }
    }

    fn table(self) -> &'static str {
        match self {
            MetricList::CcIssues => "cc_issues",
            MetricList::CcFiles => "cc_files",
            MetricList::DupFiles => "dup_files",
            MetricList::DupBlocks => "dup_blocks",
        }
    }

    fn file_column(self) -> &'static str {
        match self {
            MetricList::CcIssues => "cc_file_id",
            MetricList::DupBlocks => "dup_file_id",
            MetricList::CcFiles | MetricList::DupFiles => "id",
        }
    }

    fn order(self) -> &'static str {
        match self {
            MetricList::CcIssues => "ccn DESC, id",
            MetricList::CcFiles => "over_cc_sum DESC, id",
            MetricList::DupFiles => "duplicate_rate DESC, id",
            MetricList::DupBlocks => "start_line_num, id",
        }
    }
}

/// One page of job `job_id`'s rows of `list`, each as a JSON object with TCA's field names, and
/// how many rows match.
pub fn list(
    conn: &Connection,
    list: MetricList,
    job_id: JobId,
    filter: &MetricFilter,
    (limit, offset): (i64, i64),
) -> rusqlite::Result<(i64, Vec<serde_json::Map<String, serde_json::Value>>)> {
    use rusqlite::types::Value;
    let Where {
        clauses,
        mut values,
    } = conditions(list, job_id, filter);
    let condition = clauses.join(" AND ");
    let select = list.select();
    let table = select.rsplit("FROM").next().unwrap_or_default().trim();
    values.push(Value::Integer(limit));
    values.push(Value::Integer(offset));
    count_and_page(
        conn,
        &format!("SELECT COUNT(*) FROM {table} WHERE {condition}"),
        &format!(
            "SELECT {select} WHERE {condition} ORDER BY {}",
            list.order()
        ),
        &values,
    )
}

/// How many rows `count_sql` counts and the page `page_sql` selects, as JSON objects: the
/// last two of `values` are the page's limit and offset, which only the page reads.
pub(crate) fn count_and_page(
    conn: &Connection,
    count_sql: &str,
    page_sql: &str,
    values: &[rusqlite::types::Value],
) -> rusqlite::Result<(i64, Vec<serde_json::Map<String, serde_json::Value>>)> {
    let filters = &values[..values.len().saturating_sub(2)];
    let count: i64 = conn.query_row(
        count_sql,
        rusqlite::params_from_iter(filters.iter()),
        |row| row.get(0),
    )?;
    let sql = format!(
        "{page_sql} LIMIT ?{} OFFSET ?{}",
        values.len() - 1,
        values.len()
    );
    Ok((count, json_rows(conn, &sql, values)?))
}

/// The rows of a query as JSON objects keyed by column name (integers, reals and text as they
/// are, anything else null): what the metric lists hand the API, which orders the fields.
pub fn json_rows(
    conn: &Connection,
    sql: &str,
    values: &[rusqlite::types::Value],
) -> rusqlite::Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    let mut statement = conn.prepare_cached(sql)?;
    let names: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let rows = statement.query_map(rusqlite::params_from_iter(values.iter()), |row| {
        let mut object = serde_json::Map::new();
        for (index, name) in names.iter().enumerate() {
            let value = match row.get_ref(index)? {
                rusqlite::types::ValueRef::Integer(number) => serde_json::json!(number),
                rusqlite::types::ValueRef::Real(number) => serde_json::json!(number),
                rusqlite::types::ValueRef::Text(text) => {
                    serde_json::json!(String::from_utf8_lossy(text))
                }
                _ => serde_json::Value::Null,
            };
            object.insert(name.clone(), value);
        }
        Ok(object)
    })?;
    rows.collect()
}

/// The WHERE clause of a list: the job's rows that pass the filter.
fn conditions(list: MetricList, job_id: JobId, filter: &MetricFilter) -> Where {
    use rusqlite::types::Value;
    let mut conditions = Where::default();
    conditions.add("job_id = ?", vec![Value::Integer(job_id.0)]);
    if let Some(path) = &filter.file_path {
        conditions.add("instr(file_path, ?) > 0", vec![Value::Text(path.clone())]);
    }
    if let Some(id) = filter.id {
        conditions.add("id = ?", vec![Value::Integer(id)]);
    }
    if let Some(id) = filter.file_id {
        conditions.add(
            &format!("{} = ?", list.file_column()),
            vec![Value::Integer(id)],
        );
    }
    if list == MetricList::CcIssues {
        use crate::db::metric_triage::{AUTHOR_OF, STATUS_OF};
        if let Some(statuses) = &filter.statuses {
            let marks = vec!["?"; statuses.len()].join(", ");
            let values = statuses.iter().copied().map(Value::Integer).collect();
            conditions.add(&format!("{STATUS_OF} IN ({marks})"), values);
        }
        if let Some(author) = &filter.author {
            conditions.add(
                &format!("{AUTHOR_OF} = ?"),
                vec![Value::Text(author.clone())],
            );
        }
        for (bound, clause) in [(filter.ccn_gte, "ccn >= ?"), (filter.ccn_lte, "ccn <= ?")] {
            if let Some(bound) = bound {
                conditions.add(clause, vec![Value::Integer(bound)]);
            }
        }
    }
    if let (Some(worse), MetricList::CcFiles) = (filter.worse, list) {
        conditions.add("worse = ?", vec![Value::Integer(worse.into())]);
    }
    if list == MetricList::DupFiles {
        let issue = |column: &str| {
            format!(
                "(SELECT d.{column} FROM dup_issues d WHERE d.project_id = dup_files.project_id
                   AND d.file_path = dup_files.file_path)"
            )
        };
        if let Some(states) = &filter.dup_states {
            let marks = vec!["?"; states.len()].join(", ");
            let values = states.iter().copied().map(Value::Integer).collect();
            conditions.add(&format!("{} IN ({marks})", issue("state")), values);
        }
        if let Some(owner) = &filter.dup_owner {
            conditions.add(
                &format!("{} = ?", issue("owner")),
                vec![Value::Text(owner.clone())],
            );
        }
        for (bound, clause) in [
            (filter.rate_gte, "duplicate_rate >= ?"),
            (filter.rate_lte, "duplicate_rate <= ?"),
        ] {
            if let Some(bound) = bound {
                conditions.add(clause, vec![Value::Real(bound)]);
            }
        }
    }
    if let Some(types) = filter
        .change_types
        .as_ref()
        .filter(|types| !types.is_empty())
    {
        let marks = vec!["?"; types.len()].join(", ");
        let texts = types.iter().cloned().map(Value::Text).collect();
        conditions.add(&format!("CAST(change_type AS TEXT) IN ({marks})"), texts);
    }
    conditions
}

/// A WHERE clause being built: each `?` of a condition becomes the next numbered parameter.
#[derive(Default)]
pub(crate) struct Where {
    pub(crate) clauses: Vec<String>,
    pub(crate) values: Vec<rusqlite::types::Value>,
}

impl Where {
    pub(crate) fn add(&mut self, clause: &str, values: Vec<rusqlite::types::Value>) {
        let mut numbered = String::new();
        for (index, piece) in clause.split('?').enumerate() {
            if index > 0 {
                numbered.push_str(&format!("?{}", self.values.len() + index));
            }
            numbered.push_str(piece);
        }
        self.values.extend(values);
        self.clauses.push(numbered);
    }
}

/// The job whose rows a file id names, when it belongs to `project_id`.
pub fn file_job(
    conn: &Connection,
    list: MetricList,
    project_id: ProjectId,
    file_id: i64,
) -> rusqlite::Result<Option<JobId>> {
    let table = match list {
        MetricList::CcFiles | MetricList::CcIssues => "cc_files",
        MetricList::DupFiles | MetricList::DupBlocks => "dup_files",
    };
    conn.prepare_cached(&format!(
        "SELECT job_id FROM {table} WHERE id = ?1 AND project_id = ?2"
    ))?
    .query_row([file_id, project_id.0], |row| row.get(0))
    .optional()
    .map(|id| id.map(JobId))
}

/// The job of row `id` of `list`'s own table, when it belongs to `project_id` (a file's for
/// the file lists, a function's for `CcIssues`, a block's for `DupBlocks`).
pub fn row_job(
    conn: &Connection,
    list: MetricList,
    project_id: ProjectId,
    id: i64,
) -> rusqlite::Result<Option<JobId>> {
    let table = list.table();
    conn.prepare_cached(&format!(
        "SELECT job_id FROM {table} WHERE id = ?1 AND project_id = ?2"
    ))?
    .query_row([id, project_id.0], |row| row.get(0))
    .optional()
    .map(|id| id.map(JobId))
}

/// The project's last ten rows of the duplicate file `file_id`'s path, oldest first (TCA's
/// `DupFileHistoryListView`); empty when the project has no such file.
pub fn dup_file_history(
    conn: &Connection,
    project_id: ProjectId,
    file_id: i64,
) -> rusqlite::Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    use rusqlite::types::Value;
    let sql = format!(
        "SELECT {} WHERE project_id = ?1 AND file_path =
             (SELECT file_path FROM dup_files WHERE id = ?2 AND project_id = ?1)
         ORDER BY id DESC LIMIT 10",
        MetricList::DupFiles.select()
    );
    let mut rows = json_rows(
        conn,
        &sql,
        &[Value::Integer(project_id.0), Value::Integer(file_id)],
    )?;
    rows.reverse();
    Ok(rows)
}

/// A page of the blocks with the same text as block `block_id` in the same job, itself left
/// out (TCA's `RelatedDupBlockListView`), and how many there are.
pub fn related_blocks(
    conn: &Connection,
    block_id: i64,
    (limit, offset): (i64, i64),
) -> rusqlite::Result<(i64, Vec<serde_json::Map<String, serde_json::Value>>)> {
    use rusqlite::types::Value;
    const RELATED: &str = "(job_id, block_hash) =
             (SELECT job_id, block_hash FROM dup_blocks WHERE id = ?1) AND id <> ?1";
    count_and_page(
        conn,
        &format!("SELECT COUNT(*) FROM dup_blocks WHERE {RELATED}"),
        &format!(
            "SELECT {} WHERE {RELATED} ORDER BY id",
            MetricList::DupBlocks.select()
        ),
        &[block_id, limit, offset].map(Value::Integer),
    )
}

/// A job's complexity or duplicate-code totals, as JSON objects with TCA's field names.
pub fn summary(
    conn: &Connection,
    metric: Metric,
    job_id: JobId,
) -> rusqlite::Result<Option<serde_json::Value>> {
    use serde_json::json;
    match metric {
        Metric::Cc => conn
            .prepare_cached(
                "SELECT threshold, cc_open_num, diff_cc_num, cc_fix_num, worse_cc_file_num,
                        func_num, ccn_sum FROM cc_scans WHERE job_id = ?1",
            )?
            .query_row([job_id.0], |row| {
                let func_num: i64 = row.get(5)?;
                let ccn_sum: i64 = row.get(6)?;
                Ok(json!({
                    "min_ccn": row.get::<_, i64>(0)?,
                    "cc_open_num": row.get::<_, i64>(1)?,
                    "diff_cc_num": row.get::<_, i64>(2)?,
                    "cc_fix_num": row.get::<_, i64>(3)?,
                    "worse_cc_file_num": row.get::<_, i64>(4)?,
                    "cc_average_of_lines": null,
                    "func_num": func_num,
                    "cc_average": if func_num > 0 { rate(ccn_sum, func_num) / 100.0 } else { 0.0 },
                }))
            })
            .optional(),
        Metric::Dup => conn
            .prepare_cached(
                "SELECT duplicate_file_count, duplicate_block_count, duplicate_line_count,
                        total_line_count, duplicate_rate FROM dup_scans WHERE job_id = ?1",
            )?
            .query_row([job_id.0], |row| {
                Ok(json!({
                    "duplicate_file_count": row.get::<_, i64>(0)?,
                    "duplicate_block_count": row.get::<_, i64>(1)?,
                    "duplicate_line_count": row.get::<_, i64>(2)?,
                    "total_duplicate_line_count": row.get::<_, i64>(2)?,
                    "total_line_count": row.get::<_, i64>(3)?,
                    "duplicate_rate": row.get::<_, f64>(4)?,
                }))
            })
            .optional(),
    }
}
