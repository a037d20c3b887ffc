// codepup's status page: calls the JSON API with the token kept in localStorage and redraws in
// place every 2 seconds. Each poll fetches only the first page of recent jobs, the queue summary
// and, when a job is open, its detail and the new bytes of one task's log.
"use strict";

const API = "/server/main/api";
const ANALYSIS_API = "/server/analysis/api";
const POLL_MS = 2000;
const PROJECTS_EVERY = 15; // polls between refreshes of the project list
const TOKEN_KEY = "codepup.token";
const STATES = { 0: "WAITING", 1: "RUNNING", 2: "CLOSED", 3: "CLOSING", 4: "INITING", 5: "INITED" };

const $ = (id) => document.getElementById(id);
let token = localStorage.getItem(TOKEN_KEY);
let pollTimer = null;
let pollCount = 0;
let openJob = null; // {id, base, logTaskId, logOffset, countsLoaded, closed}

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const headers = { Authorization: "Token " + token };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch((options.prefix || API) + path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    cache: "no-store",
  });
  if (response.status === 401) throw new Unauthorized();
  if (options.raw) return response;
  const body = await response.json().catch(() => ({ msg: "unreadable answer" }));
  if (!response.ok) throw new Error(body.msg || "HTTP " + response.status);
  return body.data;
}

function projectBase(project) {
  const org = encodeURIComponent(project.org_sid);
  const team = encodeURIComponent(project.team_name);
  return `/orgs/${org}/teams/${team}/repos/${project.repo_id}/projects/${project.id}`;
}

// ---- formatting -------------------------------------------------------------------------

function localTime(text) {
  if (!text) return "–";
  const date = new Date(text);
  return isNaN(date) ? text : date.toLocaleString();
}

function duration(seconds) {
  if (seconds === null || seconds === undefined || seconds === "") return "–";
  let s = Math.max(0, Math.round(Number(seconds)));
  if (!isFinite(s)) return "–";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  s = s % 60;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

function lines(n) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString();
}

// The colour class of a job: what a person scanning the list should notice.
function tone(job) {
  if (job.state !== 2) return job.state === 0 || job.state >= 4 ? "waiting" : "running";
  if (job.result_code === null || job.result_code === undefined) return "closed";
  if (job.result_code === 0) return "ok";
  if (job.result_code < 100) return "skipped";
  return job.result_code === 301 ? "cancelled" : "failed";
}

// English labels of the codes codepup sets (README, "Result codes"); others show TCA's label.
const CODE_LABELS = {
  0: "success", 1: "nothing to scan", 2: "superseded", 100: "server error", 110: "git failed",
  111: "git auth failed", 112: "repo or branch not found", 114: "access forbidden",
  202: "tool timed out", 204: "tool unavailable", 211: "tool failed", 297: "job timed out",
  299: "task cancelled", 300: "refused", 301: "cancelled", 311: "no languages",
  312: "no tools", 321: "no lint tool",
};

// The result with the job's own message when it says more than the label.
function resultLong(job) {
  const text = resultText(job);
  const label = CODE_LABELS[job.result_code];
  return job.result_msg && job.result_msg !== label ? `${text} (${job.result_msg})` : text;
}

function resultText(job) {
  if (job.result_code === null || job.result_code === undefined) return "–";
  return `${job.result_code} ${CODE_LABELS[job.result_code] || job.result_code_msg || ""}`.trim();
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function setTone(element, name) {
  const wanted = "state tone-" + name;
  if (element.className !== wanted) element.className = wanted;
}

function progress(bar, done, total) {
  const percent = total > 0 ? Math.min(100, Math.round((100 * done) / total)) : 0;
  bar.firstChild.style.width = percent + "%";
  bar.setAttribute("aria-valuenow", String(percent));
}

function progressBar() {
  const bar = document.createElement("div");
  bar.className = "bar";
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.appendChild(document.createElement("span"));
  return bar;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function flash(message, isError) {
  const box = $("flash");
  box.textContent = message;
  box.className = isError ? "flash error" : "flash";
  box.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

// ---- sign-in ----------------------------------------------------------------------------

async function signIn(candidate) {
  token = candidate;
  $("sign-in-error").hidden = true;
  try {
    const me = await api("/v3/authen/userinfo/");
    localStorage.setItem(TOKEN_KEY, token);
    $("whoami").textContent = me.nickname || me.username;
    $("sign-in").hidden = true;
    $("signed-in").hidden = false;
    $("app").hidden = false;
    pollCount = 0;
    await poll();
  } catch (error) {
    signOut();
    const box = $("sign-in-error");
    box.textContent = error instanceof Unauthorized
      ? "That token was not accepted. Check that you pasted the whole token, or ask your admin for a new one."
      : "Could not reach the server: " + error.message;
    box.hidden = false;
  }
}

function signOut() {
  token = null;
  localStorage.removeItem(TOKEN_KEY);
  clearTimeout(pollTimer);
  pollTimer = null;
  openJob = null;
  $("sign-in").hidden = false;
  $("signed-in").hidden = true;
  $("app").hidden = true;
  $("job-view").hidden = true;
  $("jobs-body").replaceChildren();
  $("projects").replaceChildren();
}

// ---- polling ----------------------------------------------------------------------------

async function poll() {
  clearTimeout(pollTimer);
  if (!token) return;
  try {
    const work = [refreshSummary(), refreshJobs()];
    if (pollCount % PROJECTS_EVERY === 0) work.push(refreshProjects());
    if (openJob) work.push(refreshJob());
    await Promise.all(work);
    pollCount += 1;
    setText($("h-updated"), new Date().toLocaleTimeString());
  } catch (error) {
    if (error instanceof Unauthorized) {
      signOut();
      const box = $("sign-in-error");
      box.textContent = "Your token is no longer accepted. Paste a current one to sign in again.";
      box.hidden = false;
      return;
    }
    setText($("h-updated"), "offline: " + error.message);
  }
  if (token) pollTimer = setTimeout(poll, POLL_MS);
}

async function refreshSummary() {
  const summary = await api("/v3/jobs/summary/");
  setText($("h-waiting"), String(summary.waiting));
  setText($("h-running"), String(summary.running));
  setText($("h-closed"), String(summary.closed_last_24h));
  setText($("h-failed"), String(summary.failed_last_24h));
  $("h-failed").parentElement.classList.toggle("alert", summary.failed_last_24h > 0);
  setText($("h-oldest"), summary.oldest_waiting_age === null ? "none" : duration(summary.oldest_waiting_age));
  const tools = summary.tools;
  const warning = $("tools-warning");
  warning.hidden = !tools || (tools.confined && !tools.refused);
  if (tools && !warning.hidden) {
    setText(warning, tools.refused
      ? "Tool processes are refused. " + tools.refusal
      : "Tools run unconfined (--unconfined-tools): a scanned repository can run code with the server's rights.");
  }
}

// Rows are kept by job id and updated in place, so a poll never rebuilds the table under the
// reader's pointer and rows never change height.
const jobRows = new Map();

async function refreshJobs() {
  const page = await api("/v3/jobs/?limit=20");
  const body = $("jobs-body");
  const seen = new Set();
  page.results.forEach((job, index) => {
    seen.add(job.id);
    let row = jobRows.get(job.id);
    if (!row) {
      row = jobRow(job);
      jobRows.set(job.id, row);
    }
    updateJobRow(row, job);
    if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
  });
  for (const [id, row] of jobRows) {
    if (!seen.has(id)) {
      row.remove();
      jobRows.delete(id);
    }
  }
  $("jobs-empty").hidden = page.results.length > 0;
}

function jobRow(job) {
  const row = element("tr");
  row.dataset.jobId = String(job.id);
  row.tabIndex = 0;
  const cells = {};
  for (const name of ["id", "repo", "state", "result", "progress", "times", "lines", "actions"]) {
    cells[name] = element("td", "c-" + name);
    cells[name].dataset.label = name;
    row.appendChild(cells[name]);
  }
  cells.id.appendChild(element("a", "job-link", "#" + job.id));
  cells.id.firstChild.href = "#job-" + job.id;
  cells.repo.append(element("span", "repo-name"), element("span", "branch"));
  cells.state.appendChild(element("span", "state"));
  cells.progress.append(progressBar(), element("span", "count"));
  cells.times.append(element("span", "waited"), element("span", "ran"));
  const cancel = element("button", "danger small cancel", "Cancel");
  cancel.type = "button";
  cancel.addEventListener("click", (event) => {
    event.stopPropagation();
    cancelJob(row.job, cancel);
  });
  cells.actions.appendChild(cancel);
  row.addEventListener("click", () => openJobView(row.job));
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter") openJobView(row.job);
  });
  row.cells_ = cells;
  return row;
}

function updateJobRow(row, job) {
  row.job = job;
  const cells = row.cells_;
  setText(cells.repo.children[0], job.project.repo_name);
  cells.repo.children[0].title = job.project.repo_scm_url;
  setText(cells.repo.children[1], `${job.project.branch} · ${job.project.org_sid}/${job.project.team_name}`);
  const state = cells.state.firstChild;
  setText(state, STATES[job.state] || String(job.state));
  setTone(state, tone(job));
  row.dataset.state = String(job.state);
  setText(cells.result, resultText(job));
  cells.result.title = job.result_msg || "";
  progress(cells.progress.children[0], job.task_done, job.task_num);
  setText(cells.progress.children[1], `${job.task_done}/${job.task_num}`);
  setText(cells.times.children[0], "waited " + duration(job.waiting_time));
  setText(cells.times.children[1], "ran " + duration(job.execute_time));
  setText(cells.lines, lines(job.total_line_num));
  cells.lines.title = job.code_line_num === null ? "" :
    `code ${lines(job.code_line_num)}, comment ${lines(job.comment_line_num)}, blank ${lines(job.blank_line_num)}`;
  cells.actions.firstChild.hidden = !job.can_cancel;
  row.title = `created ${localTime(job.create_time)} by ${job.creator || "?"} (${job.created_from || "?"})`;
}

async function refreshProjects() {
  const projects = (await api("/v3/projects/?limit=1000")).results;
  const list = $("projects");
  const items = projects.map((project) => {
    const item = element("li", "project");
    item.dataset.projectId = String(project.id);
    const name = element("div", "project-name");
    name.append(element("span", "repo-name", project.repo_name), element("span", "branch",
      `${project.branch} · project ${project.id} · ${project.org_sid}/${project.team_name}`));
    name.title = project.repo_scm_url;
    item.appendChild(name);
    if (project.can_scan) {
      const buttons = element("div", "scan-buttons");
      for (const [label, incremental] of [["Full scan", false], ["Incremental", true]]) {
        const button = element("button", "small scan", label);
        button.type = "button";
        button.dataset.incremental = String(incremental);
        button.addEventListener("click", () => startScan(project, incremental, button));
        buttons.appendChild(button);
      }
      item.appendChild(buttons);
    }
    return item;
  });
  list.replaceChildren(...items);
  $("projects-empty").hidden = projects.length > 0;
}

// ---- actions ----------------------------------------------------------------------------

async function startScan(project, incremental, button) {
  button.disabled = true;
  try {
    const data = await api(projectBase(project) + "/scans/create/", {
      method: "POST",
      body: { incr_scan: incremental },
    });
    flash(`Job #${data.job.id} queued for ${project.repo_name} ${project.branch}.`);
    await poll();
  } catch (error) {
    if (error instanceof Unauthorized) return poll();
    flash("Could not start the scan: " + error.message, true);
  } finally {
    button.disabled = false;
  }
}

async function cancelJob(job, button) {
  button.disabled = true;
  try {
    await api(projectBase(job.project) + `/jobs/${job.id}/cancel/`, {
      method: "POST",
      body: { remarks: "cancelled from the status page" },
    });
    flash(`Job #${job.id} cancelled.`);
    await poll();
  } catch (error) {
    if (error instanceof Unauthorized) return poll();
    flash("Could not cancel: " + error.message, true);
  } finally {
    button.disabled = false;
  }
}

// ---- one job ----------------------------------------------------------------------------

function openJobView(job) {
  openJob = { id: job.id, job, base: projectBase(job.project), logTaskId: null, logOffset: 0, countsLoaded: false };
  setText($("jv-title"), `Job #${job.id} · ${job.project.repo_name} ${job.project.branch}`);
  $("jv-log").textContent = "";
  setText($("jv-log-name"), "–");
  $("jv-tasks").replaceChildren();
  $("jv-languages").replaceChildren();
  $("jv-findings").replaceChildren();
  $("jv-findings-more").hidden = true;
  $("job-view").hidden = false;
  $("job-view").scrollIntoView({ block: "nearest" });
  refreshJob().catch(() => {});
}

async function refreshJob() {
  const current = openJob;
  const detail = await api(`${current.base}/jobs/${current.id}/detail/`);
  if (openJob !== current) return;
  const job = Object.assign({}, current.job, detail, { project: current.job.project });
  current.job = job;
  const state = $("jv-state");
  setText(state, STATES[job.state] || String(job.state));
  setTone(state, tone(job));
  setText($("jv-result"), resultLong(job));
  setText($("jv-created"), localTime(job.create_time));
  setText($("jv-started"), localTime(job.start_time));
  setText($("jv-ended"), localTime(job.end_time));
  setText($("jv-times"), `${duration(job.waiting_time)} / ${duration(job.execute_time)}`);
  setText($("jv-creator"), `${job.creator || "–"} (${job.created_from || "–"})`);
  const row = jobRows.get(job.id);
  $("jv-cancel").hidden = !(job.state !== 2 && row && row.job.can_cancel);
  renderTasks(detail.tasks);
  if (current.logTaskId === null && detail.tasks.length) selectTask(detail.tasks[0]);
  const closedNow = job.state === 2 && !current.countsLoaded;
  await Promise.all([tailLog(current), closedNow ? loadCounts(current) : null, closedNow ? loadFindings(current) : null]);
}

function renderTasks(tasks) {
  const body = $("jv-tasks");
  tasks.forEach((task, index) => {
    let row = body.children[index];
    if (!row || row.dataset.taskId !== String(task.id)) {
      row = element("tr", "task");
      row.dataset.taskId = String(task.id);
      row.append(element("td", "task-name"), element("td"), element("td"), element("td"));
      row.children[1].appendChild(element("span", "state"));
      row.children[2].append(progressBar(), element("span", "count"));
      row.addEventListener("click", () => selectTask(row.task));
      body.insertBefore(row, body.children[index] || null);
    }
    row.task = task;
    row.classList.toggle("selected", openJob && openJob.logTaskId === task.id);
    setText(row.children[0], `${task.module} / ${task.task_name}`);
    const state = row.children[1].firstChild;
    setText(state, STATES[task.state] || String(task.state));
    setTone(state, tone(task));
    progress(row.children[2].children[0], task.progress_rate || 0, 100);
    setText(row.children[2].children[1], `${task.progress_rate || 0}%`);
    setText(row.children[3], resultLong(task));
  });
  while (body.children.length > tasks.length) body.lastChild.remove();
}

function selectTask(task) {
  if (!openJob || openJob.logTaskId === task.id) return;
  openJob.logTaskId = task.id;
  openJob.logOffset = 0;
  $("jv-log").textContent = "";
  setText($("jv-log-name"), `${task.module} / ${task.task_name}`);
  for (const row of $("jv-tasks").children) row.classList.toggle("selected", row.dataset.taskId === String(task.id));
  tailLog(openJob).catch(() => {});
}

// Only the bytes after the last offset are fetched; the server says where the next read starts.
async function tailLog(current) {
  if (current.logTaskId === null || current.logBusy) return;
  current.logBusy = true;
  try {
    const taskId = current.logTaskId;
    const response = await api(`${current.base}/jobs/${current.id}/tasks/${taskId}/log/?offset=${current.logOffset}`, { raw: true });
    if (!response.ok || openJob !== current || current.logTaskId !== taskId) return;
    const text = await response.text();
    const next = Number(response.headers.get("X-Log-Next-Offset"));
    current.logOffset = isFinite(next) ? next : current.logOffset + new Blob([text]).size;
    if (text) {
      const log = $("jv-log");
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.append(document.createTextNode(text));
      if (atBottom) log.scrollTop = log.scrollHeight;
    }
  } finally {
    current.logBusy = false;
  }
}

async function loadCounts(current) {
  const counts = await api(`${current.base}/jobs/${current.id}/codecount/`);
  if (openJob !== current) return;
  current.countsLoaded = true;
  const rows = counts.languages.map((language) => {
    const row = element("tr");
    for (const value of [language.name, language.files, language.code_line_num, language.comment_line_num,
      language.blank_line_num, language.total_line_num]) {
      row.appendChild(element("td", typeof value === "number" ? "num" : "", typeof value === "number" ? lines(value) : value));
    }
    return row;
  });
  $("jv-languages").replaceChildren(...rows);
  $("jv-languages-empty").hidden = rows.length > 0;
}

// SARIF's levels, which the page's styles know, for TCA's severities (fatal, error, warning, info).
const LEVELS = { 1: "error", 2: "error", 3: "warning", 4: "note" };
const FINDINGS_SHOWN = 200;

// The findings the job saw: the first page of the project's issue list filtered to the job
// (never the whole SARIF export, which may be tens of megabytes).
async function loadFindings(current) {
  let page;
  try {
    page = await api(`${current.base}/codelint/issues/?job_id=${current.id}&limit=${FINDINGS_SHOWN}`,
      { prefix: ANALYSIS_API });
  } catch (error) {
    if (error instanceof Unauthorized) throw error;
    return;
  }
  if (openJob !== current) return;
  const rows = (page.results || []).map((issue) => {
    const level = LEVELS[issue.severity] || "";
    const row = element("tr");
    row.append(
      element("td", "level " + level, level),
      element("td", "", `${issue.checktool_name || ""} ${issue.checkrule_display_name || ""}`),
      element("td", "", issue.line ? `${issue.file_path}:${issue.line}` : issue.file_path || ""),
      element("td", "", issue.msg || ""),
    );
    return row;
  });
  $("jv-findings").replaceChildren(...rows);
  $("jv-findings-empty").hidden = rows.length > 0;
  const more = $("jv-findings-more");
  more.hidden = !(page.count > rows.length);
  setText(more, `The newest ${rows.length} of ${page.count} findings.`);
}

// ---- wiring -----------------------------------------------------------------------------

$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const candidate = $("token-input").value.trim();
  $("token-input").value = "";
  if (candidate) signIn(candidate);
});
$("sign-out").addEventListener("click", signOut);
$("jv-close").addEventListener("click", () => {
  openJob = null;
  $("job-view").hidden = true;
});
$("jv-cancel").addEventListener("click", () => {
  if (openJob) cancelJob(openJob.job, $("jv-cancel"));
});
if (token) signIn(token);
