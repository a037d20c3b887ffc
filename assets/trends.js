// codepup's status page, a project's trends: small line charts drawn as inline SVG from the
// project's `trends/` series (its last 100 scans that stored results, oldest first). No chart
// library: each chart is an <svg> with axes, a legend, and a <title> on every point, so a
// pointer over a point shows the scan and the value. Loaded before app.js, whose helpers
// (api, element, setText) these functions call.
"use strict";

const TREND_SCANS = 100;
const SVG_NS = "http://www.w3.org/2000/svg";
const SEVERITY_NAMES = ["fatal", "error", "warning", "info"];

// What each chart shows: its series, each a label and how to read its value from a point
// (null when that scan did not measure it).
const TREND_CHARTS = [
  { id: "lines", title: "Lines of code", series: [
    { key: "code", label: "code", value: (p) => p.lines && p.lines.code_line_num },
    { key: "comment", label: "comment", value: (p) => p.lines && p.lines.comment_line_num },
  ] },
  { id: "open", title: "Open findings by severity", series: SEVERITY_NAMES.map((name) => (
    { key: name, label: name, value: (p) => p.lint && p.lint.open[name] }
  )) },
  { id: "churn", title: "New and fixed findings per scan", series: [
    { key: "new", label: "new", value: (p) => p.lint && p.lint.opened },
    { key: "reopened", label: "reopened", value: (p) => p.lint && p.lint.reopened },
    { key: "fixed", label: "fixed", value: (p) => p.lint && p.lint.fixed },
  ] },
  { id: "dup", title: "Duplicate code", unit: "%", series: [
    { key: "rate", label: "duplicate rate", value: (p) => p.dup && p.dup.duplicate_rate },
  ] },
  { id: "cc", title: "Functions over the complexity threshold", series: [
    { key: "over", label: "over the threshold", value: (p) => p.cc && p.cc.cc_open_num },
  ] },
];

// The chart's box, in SVG units; it scales with the page.
const BOX = { width: 360, height: 150, left: 44, right: 12, top: 10, bottom: 30 };

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// A round step for about four gridlines up to `max` (1, 2 or 5 times a power of ten).
function niceStep(max, whole) {
  const rough = Math.max(max, whole ? 1 : 0.001) / 4;
  const power = Math.pow(10, Math.floor(Math.log10(rough)));
  const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= rough);
  return whole ? Math.max(1, Math.ceil(step)) : step;
}

function trendNumber(value, unit) {
  const text = Number.isInteger(value) ? value.toLocaleString() : Number(value).toFixed(2);
  return unit ? text + unit : text;
}

function trendWhen(point) {
  const date = new Date(point.end_time || point.create_time);
  return isNaN(date) ? "" : date.toLocaleString();
}

// One chart, or a note when none of the scans measured what it shows.
function drawTrendChart(chart, points) {
  const figure = element("figure", "trend");
  figure.dataset.chart = chart.id;
  figure.appendChild(element("figcaption", "", chart.title));
  const values = chart.series.map((series) => points.map((point) => {
    const value = series.value(point);
    return value === null || value === undefined ? null : Number(value);
  }));
  const known = values.flat().filter((value) => value !== null);
  if (!known.length) {
    figure.appendChild(element("p", "muted", "Not measured by these scans."));
    return figure;
  }
  const whole = known.every(Number.isInteger);
  const step = niceStep(Math.max(...known), whole);
  const top = step * Math.max(1, Math.ceil(Math.max(...known) / step));
  const plot = svg("svg", {
    viewBox: `0 0 ${BOX.width} ${BOX.height}`, role: "img", class: "trend-svg",
    "aria-label": `${chart.title}, ${points.length} scan${points.length === 1 ? "" : "s"}`,
  });
  const innerWidth = BOX.width - BOX.left - BOX.right;
  const innerHeight = BOX.height - BOX.top - BOX.bottom;
  const x = (index) => BOX.left + (points.length === 1 ? innerWidth / 2 : (index * innerWidth) / (points.length - 1));
  const y = (value) => BOX.top + innerHeight - (value / top) * innerHeight;
  drawTrendAxes(plot, { points, top, step, x, y, unit: chart.unit });
  chart.series.forEach((series, index) => drawTrendSeries(plot, series, values[index], { points, x, y, unit: chart.unit }));
  figure.appendChild(plot);
  if (chart.series.length > 1) figure.appendChild(trendLegend(chart.series));
  return figure;
}

// Horizontal gridlines with their values on the left, and the first, middle and last scans'
// job numbers below.
function drawTrendAxes(plot, scale) {
  const axes = svg("g", { class: "axes" });
  for (let value = 0; value <= scale.top + scale.step / 1000; value += scale.step) {
    const at = scale.y(value);
    axes.appendChild(svg("line", { x1: BOX.left, x2: BOX.width - BOX.right, y1: at, y2: at, class: value === 0 ? "axis" : "grid" }));
    axes.appendChild(svg("text", { x: BOX.left - 5, y: at + 3.5, "text-anchor": "end", class: "y-label" },
      trendNumber(Number(value.toPrecision(6)), scale.unit)));
  }
  const count = scale.points.length;
  const labelled = [...new Set([0, Math.floor((count - 1) / 2), count - 1])];
  for (const index of labelled) {
    axes.appendChild(svg("text", { x: scale.x(index), y: BOX.height - 12, "text-anchor": count === 1 ? "middle" : index === 0 ? "start" : index === count - 1 ? "end" : "middle", class: "x-label" },
      "#" + scale.points[index].job_id));
  }
    plot.appendChild(axes);
}

// A series: its line (broken where a scan did not measure it) and a point per scan that did,
// each with a <title> naming the job, its time and the value.
function drawTrendSeries(plot, series, values, scale) {
  const group = svg("g", { class: "series s-" + series.key, "data-series": series.key });
  let path = "";
  let drawing = false;
  values.forEach((value, index) => {
    if (value === null) { drawing = false; return; }
    path += `${drawing ? "L" : "M"}${scale.x(index).toFixed(1)},${scale.y(value).toFixed(1)}`;
    drawing = true;
  });
  group.appendChild(svg("path", { d: path, class: "line" }));
  const radius = scale.points.length > 40 ? 2 : 3;
  values.forEach((value, index) => {
    if (value === null) return;
    const point = scale.points[index];
    const dot = svg("circle", { cx: scale.x(index).toFixed(1), cy: scale.y(value).toFixed(1), r: radius, class: "pt",
      "data-series": series.key, "data-job-id": point.job_id, "data-value": value });
    dot.appendChild(svg("title", {}, `job #${point.job_id} · ${trendWhen(point)} · ${series.label}: ${trendNumber(value, scale.unit)}`));
    group.appendChild(dot);
  });
  plot.appendChild(group);
}

function trendLegend(series) {
  const legend = element("ul", "legend");
  for (const one of series) {
    const item = element("li", "s-" + one.key);
    item.append(element("span", "swatch"), document.createTextNode(one.label));
    legend.appendChild(item);
  }
  return legend;
}

function drawTrends(points) {
  const box = $("pv-trends");
  $("pv-trends-empty").hidden = points.length > 0;
  setText($("pv-trends-note"), points.length
    ? `last ${points.length} scan${points.length === 1 ? "" : "s"} with results, jobs #${points[0].job_id} to #${points[points.length - 1].job_id}`
    : "");
  box.replaceChildren(...(points.length ? TREND_CHARTS.map((chart) => drawTrendChart(chart, points)) : []));
}

// Reads the series and redraws the charts when it changed; says whether it did.
async function refreshTrends(current) {
  const trends = await api(`${current.base}/trends/?limit=${TREND_SCANS}`);
  if (openProject !== current) return false;
  const text = JSON.stringify(trends.results);
  if (current.shown.trends === text) return false;
  const first = current.shown.trends === undefined;
  current.shown.trends = text;
  drawTrends(trends.results);
  return !first;
}
