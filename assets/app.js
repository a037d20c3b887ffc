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
let openProject = null; // {project, base, repoBase, shown: {part: JSON last drawn}}

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
    openJobFromHash();
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
  openProject = null;
  closeFindingsBrowser();
  $("project-view").hidden = true;
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
    if (openProject) work.push(refreshProject());
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
    const automation = element("button", "link open-project", "Trends, findings, automation");
    automation.type = "button";
    automation.addEventListener("click", () => openProjectView(project));
    item.appendChild(automation);
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
  const gate = job.gate, gateText = $("jv-gate");
  setText(gateText, !gate ? "not set" : gate.passed ? "passed" : `failed: ${gate.reasons.join("; ")}`);
  if (gate) setTone(gateText, gate.passed ? "ok" : "failed"); else gateText.className = "";
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

// A notification's link, `#job=<org>/<team>/<repo>/<project>/<job>`, opens that job.
function openJobFromHash() {
  const match = /^#job=([^/]+)\/([^/]+)\/(\d+)\/(\d+)\/(\d+)$/.exec(location.hash);
  if (!match) return;
  const [org, team, repo, project, job] = match.slice(1);
  openJobView({
    id: Number(job),
    project: {
      org_sid: decodeURIComponent(org), team_name: decodeURIComponent(team),
      repo_id: Number(repo), id: Number(project), repo_name: `repository ${repo}`, branch: `project ${project}`,
    },
  });
}

// ---- one project: its schedule, its repository's push webhook, its notification webhooks ----

function openProjectView(project) {
  const base = projectBase(project);
  openProject = { project, base, repoBase: base.replace(/\/projects\/\d+$/, ""), shown: {} };
  setText($("pv-title"), `${project.repo_name} ${project.branch} · project ${project.id}`);
  $("pv-hook-secret").hidden = true;
  $("pv-schedule-form").hidden = !project.can_scan;
  $("pv-schedule-form").dataset.filled = "";
  for (const id of ["pv-schedule", "pv-hook"]) setText($(id), "–");
  for (const id of ["pv-hook-deliveries", "pv-webhooks", "pv-trends"]) $(id).replaceChildren();
  openFindingsBrowser(openProject);
  $("project-view").hidden = false;
  $("project-view").scrollIntoView({ block: "nearest" });
  refreshProject().catch((error) => flash("Could not load the project: " + error.message, true));
}

// Draws `part` only when its data changed since the last poll, so a poll never rebuilds what
// the reader is pointing at.
function drawIfChanged(current, part, data, draw) {
  const text = JSON.stringify(data);
  if (current.shown[part] === text) return;
  current.shown[part] = text;
  draw(data);
}

async function refreshProject() {
  const current = openProject;
  const levels = [
    ["project", current.base],
    ["team", current.base.replace(/\/repos\/\d+\/projects\/\d+$/, "")],
    ["org", current.base.replace(/\/teams\/[^/]+\/repos\/\d+\/projects\/\d+$/, "")],
  ];
  const [newScan, schedule, hook, ...lists] = await Promise.all([
    refreshTrends(current),
    api(current.base + "/schedule/"),
    api(current.repoBase + "/webhook/"),
    ...levels.map(([, path]) => api(path + "/webhooks/").catch((error) => {
      if (error instanceof Unauthorized) throw error;
      return { can_manage: false, results: [] };
    })),
  ]);
  if (openProject !== current) return;
  const canManage = lists[0].can_manage;
  drawIfChanged(current, "schedule", schedule, (data) => drawSchedule(current, data));
  drawIfChanged(current, "hook", [hook, canManage], () => drawPushHook(hook, canManage));
  const webhooks = lists.flatMap((list, index) =>
    list.results.map((webhook) => Object.assign({ path: levels[index][1] }, webhook)));
  drawIfChanged(current, "webhooks", webhooks, drawWebhooks);
  $("pv-webhook-form").hidden = !canManage;
  // A scan closed since the last poll: its findings belong in the list.
  if (newScan) await loadFindingsPage();
}

function drawSchedule(current, schedule) {
  let text = "No schedule.";
  if (schedule.cron) {
    text = `${schedule.cron} (${schedule.incr_scan ? "incremental" : "full"}, ${schedule.enabled ? "enabled" : "off"})`;
    if (schedule.enabled) text += ` · next run ${localTime(schedule.next_run_time)}`;
    if (schedule.last_run_time) text += ` · last run ${localTime(schedule.last_run_time)} (job #${schedule.last_job_id})`;
    if (schedule.disabled_reason) text += ` · turned off: ${schedule.disabled_reason}`;
  }
  setText($("pv-schedule"), text);
  setText($("pv-tz"), "UTC" + schedule.tz_offset);
  const form = $("pv-schedule-form");
  if (!form.dataset.filled) {
    form.dataset.filled = "yes";
    $("pv-cron").value = schedule.cron || "";
    $("pv-incr").checked = schedule.incr_scan !== false;
    $("pv-enabled").checked = schedule.cron ? schedule.enabled : true;
  }
}

function drawPushHook(hook, canManage) {
  setText($("pv-hook"), hook.is_set ? `On: ${hook.url} (since ${localTime(hook.created_time)})` : "Off.");
  $("pv-hook-actions").hidden = !canManage;
  $("pv-hook-off").hidden = !hook.is_set;
  const rows = hook.deliveries.map((delivery) => {
    const row = element("tr");
    row.append(
      element("td", "", localTime(delivery.received_time)),
      element("td", "", `${delivery.forge} ${delivery.event}`),
      element("td", "", delivery.summary),
    );
    return row;
  });
  if (!rows.length) {
    const row = element("tr");
    row.appendChild(element("td", "muted", "No deliveries yet."));
    row.firstChild.colSpan = 3;
    rows.push(row);
  }
  $("pv-hook-deliveries").replaceChildren(...rows);
}

function deliveryOutcome(delivery) {
  const attempt = delivery.last_attempt;
  if (!attempt) return "not tried yet";
  const answer = attempt.status_code === null ? attempt.error : `HTTP ${attempt.status_code}`;
  return `${answer} in ${attempt.latency_ms} ms` + (delivery.attempts > 1 ? ` (try ${delivery.attempts})` : "");
}

function drawWebhooks(webhooks) {
  const cards = webhooks.map((webhook) => {
    const card = element("div", "webhook");
    card.dataset.webhookId = String(webhook.id);
    const head = element("div", "webhook-head");
    head.append(
      element("span", "webhook-url", webhook.url),
      element("span", "muted", `${webhook.level} · ${webhook.format} · ${webhook.events.join(", ")}${webhook.has_secret ? " · signed" : ""}`),
    );
    if (webhook.can_manage) {
      const remove = element("button", "small danger delete", "Delete");
      remove.type = "button";
      remove.addEventListener("click", () => deleteWebhook(webhook, remove));
      head.appendChild(remove);
    }
    card.appendChild(head);
    const table = element("table", "deliveries");
    const body = element("tbody");
    for (const delivery of webhook.deliveries) {
      const row = element("tr", "delivery");
      row.dataset.deliveryId = String(delivery.id);
      const stateClass = delivery.state === "delivered" ? "d-ok" : delivery.state === "failed" ? "d-failed" : "d-pending";
      row.append(
        element("td", "", localTime(delivery.created_time)),
        element("td", "", `${delivery.event} · job #${delivery.job_id}`),
        element("td", stateClass + " d-state", delivery.state),
        element("td", "", deliveryOutcome(delivery)),
      );
      const actions = element("td");
      if (webhook.can_manage) {
        const again = element("button", "small redeliver", "Redeliver");
        again.type = "button";
        again.addEventListener("click", () => redeliver(webhook, delivery, again));
        actions.appendChild(again);
      }
      row.appendChild(actions);
      body.appendChild(row);
    }
    if (!webhook.deliveries.length) {
      const row = element("tr");
      row.appendChild(element("td", "muted", "No deliveries yet."));
      row.firstChild.colSpan = 5;
      body.appendChild(row);
    }
    table.appendChild(body);
    card.appendChild(table);
    return card;
  });
  $("pv-webhooks").replaceChildren(...cards);
  $("pv-webhooks-empty").hidden = webhooks.length > 0;
}

// Runs a change the reader asked for, says how it went and redraws the project.
async function projectAction(button, work, done) {
  button.disabled = true;
  try {
    const result = await work();
    if (done) flash(typeof done === "function" ? done(result) : done);
    if (openProject) await refreshProject();
  } catch (error) {
    if (error instanceof Unauthorized) return poll();
    flash(error.message, true);
  } finally {
    button.disabled = false;
  }
}

function saveSchedule(event) {
  event.preventDefault();
  const current = openProject;
  const body = { cron: $("pv-cron").value.trim(), incr_scan: $("pv-incr").checked, enabled: $("pv-enabled").checked };
  projectAction($("pv-schedule-save"),
    () => api(current.base + "/schedule/", { method: "PUT", body }), "Schedule saved.");
}

function makePushHook() {
  const current = openProject;
  projectAction($("pv-hook-make"), async () => {
    const hook = await api(current.repoBase + "/webhook/", { method: "POST", body: {} });
    const box = $("pv-hook-secret");
    box.textContent = `Paste into the forge (shown once): URL ${hook.url} secret ${hook.secret}`;
    box.hidden = false;
  }, "New push webhook made.");
}

function turnOffPushHook() {
  const current = openProject;
  projectAction($("pv-hook-off"), async () => {
    const response = await api(current.repoBase + "/webhook/", { method: "DELETE", raw: true });
    if (!response.ok) throw new Error("HTTP " + response.status);
    $("pv-hook-secret").hidden = true;
  }, "Push webhook turned off.");
}

function addWebhook(event) {
  event.preventDefault();
  const current = openProject;
  const events = [...document.querySelectorAll("input[name=pv-wh-event]:checked")].map((box) => box.value);
  const body = { url: $("pv-wh-url").value.trim(), events, format: $("pv-wh-format").value };
  if ($("pv-wh-secret").value) body.secret = $("pv-wh-secret").value;
  projectAction($("pv-wh-add"), async () => {
    await api(current.base + "/webhooks/", { method: "POST", body });
    $("pv-wh-url").value = "";
    $("pv-wh-secret").value = "";
  }, "Webhook added.");
}

function deleteWebhook(webhook, button) {
  projectAction(button, async () => {
    const response = await api(`${webhook.path}/webhooks/${webhook.id}/`, { method: "DELETE", raw: true });
    if (!response.ok) throw new Error("HTTP " + response.status);
  }, "Webhook deleted.");
}

function redeliver(webhook, delivery, button) {
  projectAction(button,
    () => api(`${webhook.path}/webhooks/${webhook.id}/deliveries/${delivery.id}/redeliver/`, { method: "POST", body: {} }),
    (again) => `Delivery ${delivery.id} queued again as ${again.id}.`);
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
$("pv-close").addEventListener("click", () => {
  openProject = null;
  closeFindingsBrowser();
  $("project-view").hidden = true;
});
$("pv-schedule-form").addEventListener("submit", saveSchedule);
wireFindingsBrowser();
$("pv-webhook-form").addEventListener("submit", addWebhook);
$("pv-hook-make").addEventListener("click", makePushHook);
$("pv-hook-off").addEventListener("click", turnOffPushHook);
$("jv-cancel").addEventListener("click", () => {
  if (openJob) cancelJob(openJob.job, $("jv-cancel"));
});
window.addEventListener("hashchange", () => {
  if (token) openJobFromHash();
});
if (token) signIn(token);
