// codepup's status page, a project's findings browser: the project's lint findings from TCA's
// `codelint/issues/` with its filters, a page at a time, and triage for those allowed
// (`can_triage`): won't fix, false positive and reopen, for one finding from its history row
// or for the selected ones at once, through TCA's `issues/<id>/resolution/` and bulk
// `issues/resolution/`. The list is not polled, so a selection is never redrawn away; it is
// read again after each change, when a filter or page changes and when a new scan closes.
// Loaded before app.js, whose helpers (api, element, setText, flash) these functions call.
"use strict";

const FB_PAGE = 20;
const HISTORY_SHOWN = 50;
const RESOLUTION_NAMES = { 0: "", 1: "fixed", 2: "won't fix", 3: "false positive", 4: "duplicate", 5: "path filtered", 6: "rule removed" };
const FINDING_STATES = { 1: "open", 2: "resolved", 3: "closed" };
const TRIAGE_NAMES = { 0: "reopened", 2: "marked won't fix", 3: "marked false positive" };

// The browser's state for the open project: its filters, page and selected finding ids.
let browsing = null; // {current, query, offset, count, selected: Set, open: Set of ids with history shown}

function findingsBase(current) {
  return ANALYSIS_API + current.base + "/codelint";
}

function findingStatus(issue) {
  if (issue.state === 1) return "open";
  return RESOLUTION_NAMES[issue.resolution] || FINDING_STATES[issue.state] || String(issue.state);
}

// Starts the browser on a newly opened project.
function openFindingsBrowser(current) {
  browsing = { current, query: findingsQuery(), offset: 0, count: 0, selected: new Set(), open: new Set() };
  const canTriage = Boolean(current.project.can_triage);
  $("fb-batch").hidden = !canTriage;
  $("fb-all").hidden = !canTriage;
  $("fb-body").replaceChildren();
  setText($("fb-open"), "–");
  setText($("fb-range"), "–");
  loadFindingsPage().catch(findingsFailed);
}

function closeFindingsBrowser() {
  browsing = null;
}

// The filters as the issue list's query string (state defaults to open).
function findingsQuery() {
  const query = new URLSearchParams();
  const fields = { severity: "fb-severity", state: "fb-state", resolution: "fb-resolution",
    checkrule_display_name: "fb-rule", file_path: "fb-path", author: "fb-author" };
  for (const [name, id] of Object.entries(fields)) {
    const value = $(id).value.trim();
    if (value) query.set(name, value);
  }
  return query;
}

function findingsFailed(error) {
  if (error instanceof Unauthorized) return poll();
  flash("Could not load the findings: " + error.message, true);
}

async function loadFindingsPage() {
  const state = browsing;
  if (!state) return;
  const query = new URLSearchParams(state.query);
  query.set("limit", String(FB_PAGE));
  query.set("offset", String(state.offset));
  const base = findingsBase(state.current);
  const [page, open] = await Promise.all([
    api(`/issues/?${query}`, { prefix: base }),
    api("/overview/lintscans/latest/", { prefix: ANALYSIS_API + state.current.base }),
  ]);
  if (browsing !== state) return;
  state.count = page.count;
  const ids = new Set(page.results.map((issue) => issue.id));
  for (const id of state.selected) if (!ids.has(id)) state.selected.delete(id);
  drawOpenCounts(open);
  drawFindings(page.results);
}

function drawOpenCounts(open) {
  const by = {};
  for (const entry of open.lint_issue_severity_list || []) by[entry.severity] = entry.num;
  const parts = SEVERITY_NAMES.map((name, index) => `${name} ${by[index + 1] || 0}`);
  setText($("fb-open"), `Open findings: ${open.lint_issue_num} (${parts.join(" · ")})`);
}

function drawFindings(issues) {
  const state = browsing;
  const canTriage = Boolean(state.current.project.can_triage);
  const rows = [];
  for (const issue of issues) {
    rows.push(findingRow(issue, canTriage));
    if (state.open.has(issue.id)) rows.push(historyRow(issue, canTriage));
  }
  $("fb-body").replaceChildren(...rows);
  $("fb-empty").hidden = issues.length > 0;
  const first = issues.length ? state.offset + 1 : 0;
  setText($("fb-range"), `${first}–${state.offset + issues.length} of ${state.count}`);
  $("fb-prev").disabled = state.offset === 0;
  $("fb-next").disabled = state.offset + issues.length >= state.count;
  drawSelection();
  for (const id of state.open) loadHistory(id).catch(findingsFailed);
}

function findingRow(issue, canTriage) {
  const row = element("tr", "finding");
  row.dataset.issueId = String(issue.id);
  row.dataset.state = String(issue.state);
  row.dataset.resolution = String(issue.resolution);
  const check = element("td");
  if (canTriage) {
    const box = element("input", "pick");
    box.type = "checkbox";
    box.checked = browsing.selected.has(issue.id);
    box.setAttribute("aria-label", `Select finding ${issue.id}`);
    box.addEventListener("change", () => {
      if (box.checked) browsing.selected.add(issue.id); else browsing.selected.delete(issue.id);
      drawSelection();
    });
    check.appendChild(box);
  }
  const severity = SEVERITY_NAMES[issue.severity - 1] || String(issue.severity);
  const more = element("button", "link history", browsing.open.has(issue.id) ? "Hide" : "History");
  more.type = "button";
  more.addEventListener("click", () => toggleHistory(issue.id));
  const cellMore = element("td");
  cellMore.appendChild(more);
  row.append(
    check,
    // `sev-*`, not the level's name: the page's `.error` is the alert box.
    element("td", "level sev-" + severity, severity),
    element("td", "status", findingStatus(issue)),
    element("td", "", `${issue.checktool_name || ""} / ${issue.checkrule_display_name || ""}`),
    element("td", "", issue.line ? `${issue.file_path}:${issue.line}` : issue.file_path || ""),
    element("td", "", issue.msg || ""),
    element("td", "", issue.author || "–"),
    cellMore,
  );
  return row;
}

// The row under a finding: its history (newest first) and, for those allowed, its triage.
function historyRow(issue, canTriage) {
  const row = element("tr", "history-row");
  row.dataset.historyOf = String(issue.id);
  const cell = element("td");
  cell.colSpan = 8;
  const list = element("ol", "history");
  list.appendChild(element("li", "muted", "Loading the history…"));
  cell.appendChild(list);
  if (canTriage) cell.appendChild(triageForm(issue));
  row.appendChild(cell);
  return row;
}

function triageForm(issue) {
  const form = element("div", "triage");
  const reason = element("input", "reason");
  reason.placeholder = "reason (optional)";
  reason.setAttribute("aria-label", `Reason for finding ${issue.id}`);
  form.appendChild(reason);
  const choices = issue.state === 1 ? [[2, "Won't fix"], [3, "False positive"]] : [[0, "Reopen"]];
  for (const [resolution, label] of choices) {
    const button = element("button", "small", label);
    button.type = "button";
    button.dataset.resolution = String(resolution);
    button.addEventListener("click", () => triageOne(issue, resolution, reason.value.trim(), button));
    form.appendChild(button);
  }
  return form;
}

function toggleHistory(id) {
  if (browsing.open.has(id)) browsing.open.delete(id); else browsing.open.add(id);
  loadFindingsPage().catch(findingsFailed);
}

async function loadHistory(id) {
  const state = browsing;
  const comments = (await api(`/issues/${id}/comments/?limit=${HISTORY_SHOWN}`,
    { prefix: findingsBase(state.current) })).results;
  const row = document.querySelector(`tr[data-history-of='${id}']`);
  if (browsing !== state || !row) return;
  const items = comments.map((comment) => element("li", "",
    `${localTime(comment.created_time)} · ${comment.creator} · ${comment.action}${comment.message ? ": " + comment.message : ""}`));
  if (!items.length) items.push(element("li", "muted", "No history: nobody has triaged this finding."));
  row.querySelector("ol.history").replaceChildren(...items);
}

function drawSelection() {
  const state = browsing;
  const count = state.selected.size;
  setText($("fb-selected"), `${count} selected`);
  for (const button of $("fb-batch").querySelectorAll("button")) button.disabled = count === 0;
  const boxes = [...$("fb-body").querySelectorAll("input.pick")];
  $("fb-all").checked = boxes.length > 0 && boxes.every((box) => box.checked);
}

// One finding through `issues/<id>/resolution/`.
async function triageOne(issue, resolution, reason, button) {
  const body = { resolution };
  if (reason) body.ignore_reason = reason;
  await triageAction(button, () => api(`/issues/${issue.id}/resolution/`,
    { prefix: findingsBase(browsing.current), method: "PUT", body }),
  () => `Finding ${issue.id} ${TRIAGE_NAMES[resolution]}.`);
}

// The selected findings through the bulk `issues/resolution/`.
async function triageSelected(resolution, button) {
  const ids = [...browsing.selected];
  const body = { issue_ids: ids, resolution };
  const reason = $("fb-reason").value.trim();
  if (reason) body.ignore_reason = reason;
  await triageAction(button, () => api("/issues/resolution/",
    { prefix: findingsBase(browsing.current), method: "PUT", body }),
  (result) => `${result.count} of ${ids.length} findings ${TRIAGE_NAMES[resolution]}.`);
  if (browsing) browsing.selected.clear();
  $("fb-reason").value = "";
  if (browsing) drawSelection();
}

// Triage through the page's one action helper (app.js): says how it went, then reads the list
// again (and redraws the project) before the button is given back.
function triageAction(button, work, done) {
  return projectAction(button, async () => {
    const result = await work();
    await loadFindingsPage();
    return result;
  }, done);
}

function wireFindingsBrowser() {
  $("fb-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!browsing) return;
    browsing.query = findingsQuery();
    browsing.offset = 0;
    browsing.selected.clear();
    loadFindingsPage().catch(findingsFailed);
  });
  $("fb-prev").addEventListener("click", () => {
    browsing.offset = Math.max(0, browsing.offset - FB_PAGE);
    loadFindingsPage().catch(findingsFailed);
  });
  $("fb-next").addEventListener("click", () => {
    browsing.offset += FB_PAGE;
    loadFindingsPage().catch(findingsFailed);
  });
  $("fb-all").addEventListener("change", () => {
    const wanted = $("fb-all").checked;
    for (const box of $("fb-body").querySelectorAll("input.pick")) {
      box.checked = wanted;
      box.dispatchEvent(new Event("change"));
    }
  });
  for (const button of $("fb-batch").querySelectorAll("button")) {
    button.addEventListener("click", () => triageSelected(Number(button.dataset.resolution), button));
  }
}
