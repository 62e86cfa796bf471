// The operations dashboard's charts (Chart.js), drawn from the data the page embeds, then fetched again from
// `data-url` every few seconds; the charts and the page's tables are updated in place.
//
// A dashboard is the one page where a timer is the point: what it shows changes without anyone acting. The timer
// pauses while the tab is hidden, and never runs two requests at once (the next one is set when one ends).
// Everything from the server is text: it goes into the page with textContent only, never as markup.

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";

// Only the parts these charts use: the bundle stays a fraction of the whole library.
Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement,
  PointElement, Tooltip);

const VERDICT_COLORS = {
  accepted: "#2e7d32",
  wrong_answer: "#c62828",
  compile_error: "#6a1b9a",
  runtime_error: "#ef6c00",
  time_limit: "#f9a825",
  memory_limit: "#00838f",
  output_limit: "#5d4037",
  internal_error: "#212121",
};
const BLUE = "#417690"; // the admin's own
const ORANGE = "#ef6c00";
const GREY = "#9e9e9e";
const RED = "#c62828";

// --- text -------------------------------------------------------------------------------------------------------

// Times arrive as ISO 8601 in UTC ("2025-01-31T12:34:56.789+00:00"); the page shows them in UTC, as the server does.
const timeText = (iso) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : "–");
const clockText = (iso) => iso.slice(11, 16);
const secondsText = (value, digits = 2) => (value === null || value === undefined ? "–" : `${value.toFixed(digits)} s`);

function cell(tag, text, className) {
  const element = document.createElement(tag);
  element.textContent = text;
  if (tag === "th") element.scope = "row";
  if (className) element.className = className;
  return element;
}

function warning(text) {
  const span = document.createElement("span");
  span.className = "ops-warning";
  span.textContent = text;
  return span;
}

function row(cells, dataset = {}) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  Object.assign(tr.dataset, dataset);
  return tr;
}

// Replace a table body's rows, or put one row saying `empty.text` when there are none.
function fillTable(table, rows, empty) {
  const fresh = document.createElement("tbody");
  fresh.append(...rows);
  if (!rows.length) {
    const td = cell("td", empty.text, empty.className);
    td.colSpan = table.tHead.rows[0].cells.length;
    fresh.append(row([td]));
  }
  table.tBodies[0].replaceWith(fresh);
}

// --- the tables -------------------------------------------------------------------------------------------------

function renderTables(root, data) {
  const updated = document.getElementById("dashboard-updated");
  updated.dateTime = data.generated_at;
  updated.textContent = `${timeText(data.generated_at)} UTC`;

  fillTable(document.getElementById("queues-table"), data.queues.map((q) => {
    const workers = document.createElement("td");
    workers.className = "num";
    workers.append(q.workers ? String(q.workers) : warning("none online"));
    return row([cell("th", q.queue), cell("td", String(q.queued), "num"), cell("td", String(q.running), "num"),
      cell("td", secondsText(q.oldest_queued_seconds, 0), "num"), workers, cell("td", String(q.concurrency), "num")],
    { queue: q.queue });
  }), { text: "No queue." });

  const workersError = document.getElementById("workers-error");
  workersError.textContent = data.workers_error;
  workersError.hidden = !data.workers_error;
  fillTable(document.getElementById("workers-table"), data.workers.map((w) => row([
    cell("th", w.name), cell("td", w.host), cell("td", w.queues.join(", ")), cell("td", String(w.concurrency), "num"),
    cell("td", String(w.slots), "num"), cell("td", String(w.pid), "num"), cell("td", timeText(w.started_at)),
    cell("td", `${Math.round(w.seen_seconds_ago)} s ago`, "num"),
  ])), { text: "No worker online.", className: "ops-warning" });

  fillTable(document.getElementById("windows-table"), Object.entries(data.windows).map(([name, w]) => {
    const finished = cell("td", String(w.finished), "num");
    finished.dataset.field = "finished";
    const latencies = ["queue", "run", "total"].flatMap((part) => [
      cell("td", secondsText(w.latency[part].p50), "num"), cell("td", secondsText(w.latency[part].p95), "num")]);
    return row([cell("th", w.label), finished, ...latencies], { window: name });
  }), { text: "" });

  fillTable(document.getElementById("verdicts-table"), data.verdicts.languages.map((l) => row([
    cell("th", l.language), cell("td", String(l.total), "num"),
    ...data.verdicts.verdicts.map((v) => cell("td", String(l.counts[v.verdict] ?? 0), "num")),
  ])), { text: "Nothing finished in the last 24 hours." });

  const summary = document.getElementById("failures-summary");
  summary.querySelector("[data-field=internal_errors]").textContent = String(data.failures.internal_errors);
  summary.querySelector("[data-field=retried]").textContent = String(data.failures.retried);

  const submissions = root.dataset.submissionsUrl;
  fillTable(document.getElementById("errors-table"), data.failures.recent.map((e) => {
    const when = document.createElement("td");
    const time = document.createElement("time");
    time.dateTime = e.finished_at;
    time.textContent = timeText(e.finished_at);
    when.append(time);
    const link = document.createElement("a");
    const url = new URL(submissions, window.location.href);
    url.searchParams.set("q", e.token);
    link.href = url.pathname + url.search;
    const code = document.createElement("code");
    code.textContent = e.token;
    link.append(code);
    const token = document.createElement("td");
    token.append(link);
    return row([when, token, cell("td", e.language), cell("td", e.worker || "–"), cell("td", e.message, "ops-message")]);
  }), { text: "No internal error." });
}

// --- the charts -------------------------------------------------------------------------------------------------

function themeDefaults() {
  // The admin's colours (light or dark theme) for the axes and legends.
  const style = getComputedStyle(document.documentElement);
  const quiet = style.getPropertyValue("--body-quiet-color").trim();
  const hairline = style.getPropertyValue("--hairline-color").trim();
  if (quiet) Chart.defaults.color = quiet;
  if (hairline) Chart.defaults.borderColor = hairline;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false; // each canvas fills its box, whose height the page's style sets
}

const countAxis = { beginAtZero: true, ticks: { precision: 0 } };

function chartData(data, windowName) {
  const span = data.windows[windowName];
  const labels = span.buckets.map((b) => clockText(b.start));
  const languages = data.verdicts.languages;
  return {
    queues: {
      labels: data.queues.map((q) => q.queue),
      datasets: [data.queues.map((q) => q.queued), data.queues.map((q) => q.running)],
    },
    throughput: { labels, datasets: [span.buckets.map((b) => b.finished)] },
    latency: { labels, datasets: [span.buckets.map((b) => b.total_p50), span.buckets.map((b) => b.total_p95)] },
    verdicts: {
      labels: languages.map((l) => l.language),
      datasets: data.verdicts.verdicts.map((v) => languages.map((l) => l.counts[v.verdict] ?? 0)),
    },
    failures: {
      labels: data.failures.buckets.map((b) => clockText(b.start)),
      datasets: [data.failures.buckets.map((b) => b.internal_errors), data.failures.buckets.map((b) => b.retried)],
    },
  };
}

function makeCharts(data, windowName) {
  const initial = chartData(data, windowName);
  const dataset = (label, values, color, extra = {}) => ({ label, data: values, backgroundColor: color,
    borderColor: color, ...extra });
  const make = (id, config) => {
    const canvas = document.getElementById(id);
    const chart = new Chart(canvas, config);
    canvas.dataset.chartReady = "true"; // drawn: what the browser tests wait for
    return chart;
  };
  const timeAxis = { title: { display: true, text: "UTC" } };
  return {
    queues: make("chart-queues", {
      type: "bar",
      data: { labels: initial.queues.labels, datasets: [
        dataset("Queued", initial.queues.datasets[0], ORANGE), dataset("Running", initial.queues.datasets[1], BLUE)] },
      options: { scales: { y: countAxis } },
    }),
    throughput: make("chart-throughput", {
      type: "bar",
      data: { labels: initial.throughput.labels, datasets: [
        dataset("Finished submissions", initial.throughput.datasets[0], BLUE)] },
      options: { scales: { x: timeAxis, y: countAxis } },
    }),
    latency: make("chart-latency", {
      type: "line",
      data: { labels: initial.latency.labels, datasets: [
        dataset("Total p50 (s)", initial.latency.datasets[0], BLUE, { tension: 0.2 }),
        dataset("Total p95 (s)", initial.latency.datasets[1], ORANGE, { tension: 0.2 })] },
      options: { scales: { x: timeAxis, y: { beginAtZero: true, title: { display: true, text: "seconds" } } } },
    }),
    verdicts: make("chart-verdicts", {
      type: "bar",
      data: { labels: initial.verdicts.labels, datasets: data.verdicts.verdicts.map((v, i) =>
        dataset(v.label, initial.verdicts.datasets[i], VERDICT_COLORS[v.verdict] || GREY)) },
      options: { scales: { x: { stacked: true }, y: { ...countAxis, stacked: true } } },
    }),
    failures: make("chart-failures", {
      type: "bar",
      data: { labels: initial.failures.labels, datasets: [
        dataset("Internal errors", initial.failures.datasets[0], RED),
        dataset("Retried (infrastructure)", initial.failures.datasets[1], GREY)] },
      options: { scales: { x: timeAxis, y: countAxis } },
    }),
  };
}

function updateCharts(charts, data, windowName) {
  const fresh = chartData(data, windowName);
  for (const [name, chart] of Object.entries(charts)) {
    chart.data.labels = fresh[name].labels;
    fresh[name].datasets.forEach((values, i) => { chart.data.datasets[i].data = values; });
    chart.update("none"); // no animation every few seconds: the bars would never stand still
  }
}

// --- refreshing -------------------------------------------------------------------------------------------------

function start(root) {
  let data = JSON.parse(document.getElementById("dashboard-data").textContent);
  let windowName = "hour";
  const status = document.getElementById("dashboard-status");
  const delay = Number(root.dataset.refreshSeconds || 5) * 1000;

  themeDefaults();
  const charts = makeCharts(data, windowName);
  document.getElementById("dashboard-live").hidden = false;
  document.getElementById("dashboard-reload").hidden = true;

  const switcher = document.getElementById("window-switch");
  switcher.hidden = false;
  switcher.addEventListener("change", (event) => {
    windowName = event.target.value;
    updateCharts(charts, data, windowName);
  });

  let timer = null;
  let busy = false;
  async function refresh() {
    timer = null;
    if (busy || document.hidden) return; // visibilitychange starts it again
    busy = true;
    try {
      const response = await fetch(root.dataset.url, { headers: { Accept: "application/json" }, cache: "no-store" });
      // Logged out meanwhile: the admin answers with its login page (HTML, after a redirect).
      if (!(response.headers.get("Content-Type") || "").includes("application/json")) {
        throw new Error(response.ok ? "you may have been logged out; reload the page" : `HTTP ${response.status}`);
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = await response.json();
      renderTables(root, data);
      updateCharts(charts, data, windowName);
      status.textContent = "";
    } catch (error) {
      status.textContent = `The figures could not be refreshed: ${error.message}`;
    } finally {
      busy = false;
      if (!document.hidden) timer = setTimeout(refresh, delay);
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else if (!timer && !busy) {
      refresh();
    }
  });
  timer = setTimeout(refresh, delay);
}

const root = document.getElementById("ops-dashboard");
if (root) start(root);
