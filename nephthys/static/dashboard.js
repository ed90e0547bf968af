// The help desk dashboard: reads the public API every 30 s and draws it. No build step, no framework.
// Each section has its own URL and ETag; a 304 leaves that section as it is (nothing is redrawn).
"use strict";

const REFRESH_MS = 30000;
const KEY_STORAGE = "nephthys-dashboard-api-key";
const NOT_MODIFIED = Symbol("not modified");
// /api/stats/distribution's bucket edges in minutes; the last bucket has no upper edge.
const BUCKET_EDGES = [5, 15, 30, 60, 120, 240, 480, 1440, 2880, 10080];
const BUCKET_LABELS = ["≤5m", "≤15m", "≤30m", "≤1h", "≤2h", "≤4h", "≤8h", "≤1d", "≤2d", "≤7d", ">7d"];
// Tick steps for counts of tickets: whole numbers only.
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

class KeyNeeded extends Error {}
class Unreachable extends Error {}

const $ = (selector, root = document) => root.querySelector(selector);
const etags = new Map();
const charts = new Map();
let lastGood = null;
let refreshing = false;
let refreshAgain = false;
let keyFormWanted = false; // the viewer opened the key form: it stays until a key is given

// ---------------------------------------------------------------- formatting

function formatCount(value) {
  return value == null ? "–" : String(value);
}

function formatDuration(minutes) {
  if (minutes == null) return "–";
  if (minutes < 60) return `${Math.round(minutes)} min`;
  if (minutes < 2880) return `${(minutes / 60).toFixed(1)} h`;
  return `${(minutes / 1440).toFixed(1)} d`;
}

function formatChange(current, previous, period) {
  const delta = current - previous;
  if (delta === 0) return `= same as the previous ${period}`;
  return `${delta > 0 ? "▲ +" : "▼ −"}${Math.abs(delta)} vs the previous ${period}`;
}

function clock(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function field(data, path) {
  return path.split(".").reduce((value, key) => (value == null ? undefined : value[key]), data);
}

function element(tag, properties = {}, ...children) {
  const made = Object.assign(document.createElement(tag), properties);
  made.append(...children);
  return made;
}

function cssColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// ---------------------------------------------------------------- fetching

function storedKey() {
  return localStorage.getItem(KEY_STORAGE);
}

async function getJSON(url) {
  const headers = {};
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (etags.has(url)) headers["If-None-Match"] = etags.get(url);
  let response;
  try {
    // no-store: the browser's cache would turn a 304 into a 200 and hide it from us.
    response = await fetch(url, { headers, cache: "no-store" });
  } catch (error) {
    throw new Unreachable(String(error));
  }
  if (response.status === 304) return NOT_MODIFIED;
  if (response.status === 401) throw new KeyNeeded();
  if (response.status >= 500) throw new Unreachable(`${url} answered ${response.status}`);
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  const data = await response.json();
  const tag = response.headers.get("ETag");
  if (tag) etags.set(url, tag);
  else etags.delete(url);
  return data;
}

// ---------------------------------------------------------------- sections

function sinceThirtyDays() {
  return new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10);
}

const sections = [
  { id: "numbers", url: () => "/api/stats_v2", render: renderStats },
  { id: "daily", url: () => "/api/stats/daily", render: renderDaily },
  {
    id: "resolution",
    url: () => `/api/stats/distribution?metric=resolution&since=${sinceThirtyDays()}`,
    render: (data) => renderDistribution("resolution", data),
  },
  {
    id: "hang",
    url: () => `/api/stats/distribution?metric=hang&since=${sinceThirtyDays()}`,
    render: (data) => renderDistribution("hang", data),
  },
  { id: "queue", url: () => "/api/unanswered?limit=50", render: renderQueue },
];

// "waiting 3.2 h": the API's age when it answered, kept growing by the browser's clock between
// answers (a 304 carries no new age, and the ETags leave ages out so that polling stays cheap).
function ageText(minutes) {
  const shown = element("span", {}, `waiting ${formatDuration(minutes)}`);
  if (minutes != null) {
    shown.dataset.ageMinutes = String(minutes);
    shown.dataset.ageSince = String(Date.now());
  }
  return shown;
}

function tickAges() {
  for (const shown of document.querySelectorAll("[data-age-minutes]")) {
    const elapsed = (Date.now() - Number(shown.dataset.ageSince)) / 60000;
    shown.textContent = `waiting ${formatDuration(Number(shown.dataset.ageMinutes) + elapsed)}`;
  }
}

function renderStats(stats) {
  for (const shown of document.querySelectorAll("[data-field]")) {
    const value = field(stats, shown.dataset.field);
    shown.textContent = shown.dataset.format === "duration" ? formatDuration(value) : formatCount(value);
  }
  for (const shown of document.querySelectorAll("[data-change]")) {
    const [window, key] = shown.dataset.change.split(".");
    const period = window === "past_24h" ? "24 hours" : "7 days";
    shown.textContent = formatChange(stats[window][key], stats[`${window}_previous`][key], period);
  }
  const oldest = stats.all_time.oldest_unanswered_ticket;
  const oldestShown = $("#oldest");
  if (oldest) {
    const link = element("a", { href: oldest.link, target: "_blank", rel: "noopener" }, `Ticket #${oldest.id}`);
    oldestShown.replaceChildren(link, ", ", ageText(oldest.age_minutes));
  } else {
    oldestShown.textContent = "Nobody is waiting.";
  }
  renderLeaderboard(stats.past_7d.helpers_leaderboard);
}

function renderLeaderboard(entries) {
  const list = $("#leaderboard-list");
  if (!entries.length) {
    list.replaceChildren(element("li", {}, "No tickets closed by helpers in the last 7 days."));
    return;
  }
  const most = entries[0].count;
  list.replaceChildren(
    ...entries.slice(0, 10).map((entry) => {
      const bar = element("span", { className: "bar" });
      bar.style.width = `${(100 * entry.count) / most}%`;
      const name = entry.username || entry.slack_id;
      return element(
        "li",
        {},
        element("span", { className: "name", title: name }, name),
        element("span", {}, bar),
        element("span", { className: "count" }, String(entry.count)),
      );
    }),
  );
}

function renderQueue(queue) {
  const waiting = queue.tickets.length;
  $("#queue-note").textContent =
    queue.total === 0
      ? "Nobody is waiting."
      : `${queue.total} waiting, longest first${queue.total > waiting ? ` (the first ${waiting} shown)` : ""}.`;
  // The API leaves out question text for readers without a key (API_DESCRIPTIONS=keys): offer to give one.
  $("#queue-key").hidden = queue.tickets.every((ticket) => "description" in ticket);
  $("#queue-list").replaceChildren(
    ...queue.tickets.map((ticket) => {
      const item = element(
        "li",
        {},
        element("a", { href: ticket.link, target: "_blank", rel: "noopener" }, ticket.title || `Ticket #${ticket.id}`),
        " ",
        element("span", { className: "waiting" }, ageText(ticket.waiting_minutes)),
      );
      // Present only when the reader may see question text (API_DESCRIPTIONS).
      if (typeof ticket.description === "string" && ticket.description) {
        item.append(element("p", { className: "description" }, ticket.description));
      }
      return item;
    }),
  );
}

// ---------------------------------------------------------------- charts

function chartWidth(container) {
  return Math.max(200, container.clientWidth);
}

function axis(extra = {}) {
  const muted = cssColour("--muted");
  const line = cssColour("--line");
  return { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 }, ...extra };
}

// Each series' name written beside its last point, so the chart reads without colour.
function labelLineEnds(u) {
  const ctx = u.ctx;
  ctx.save();
  ctx.font = `${12 * uPlot.pxRatio}px system-ui, sans-serif`;
  ctx.textAlign = "right";
  ctx.textBaseline = "bottom";
  u.series.forEach((series, i) => {
    if (i === 0 || !series.show) return;
    const values = u.data[i];
    const last = values.length - 1;
    if (last < 0 || values[last] == null) return;
    ctx.fillStyle = series._stroke;
    const x = u.valToPos(u.data[0][last], "x", true);
    const y = u.valToPos(values[last], series.scale, true);
    ctx.fillText(series.label, x - 4 * uPlot.pxRatio, y - 3 * uPlot.pxRatio);
  });
  ctx.restore();
}

function dailyChart(container) {
  const series = (label, colour, dash, scale = "y") => ({
    label,
    scale,
    stroke: cssColour(colour),
    width: 2,
    dash,
    points: { show: true, size: 5, fill: cssColour(colour) },
    value: (u, v) => formatCount(v),
  });
  return new uPlot(
    {
      width: chartWidth(container),
      height: 260,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [
        axis(),
        axis({ label: "per day", size: 40, incrs: COUNT_STEPS }),
        axis({ scale: "backlog", side: 1, label: "backlog", grid: { show: false }, incrs: COUNT_STEPS }),
      ],
      series: [
        { label: "Day", value: (u, ts) => (ts == null ? "–" : new Date(ts * 1000).toISOString().slice(0, 10)) },
        series("New", "--new", []),
        series("Closed", "--closed", [6, 4]),
        series("Backlog", "--backlog", [2, 3], "backlog"),
      ],
      legend: { markers: { dash: (u, i) => (u.series[i].dash && u.series[i].dash.length ? "dashed" : "solid") } },
      hooks: { draw: [labelLineEnds] },
    },
    [[], [], [], []],
    container,
  );
}

function renderDaily(daily) {
  const days = daily.days;
  const data = [
    days.map((day) => Date.parse(`${day.date}T00:00:00Z`) / 1000),
    days.map((day) => day.new_tickets),
    days.map((day) => day.closed_tickets),
    days.map((day) => day.unresolved_at_end),
  ];
  $("#daily-note").textContent =
    `New and closed tickets each day, and the backlog (unresolved) at each day's end; days in ${daily.tz}.`;
  drawChart("daily", dailyChart, data);
}

// Where a duration in minutes falls on the histogram's axis of bucket indexes (bar i spans i ± 0.5).
function bucketPosition(minutes) {
  const i = BUCKET_EDGES.findIndex((edge) => minutes <= edge);
  if (i === -1) return BUCKET_EDGES.length;
  const low = i === 0 ? 0 : BUCKET_EDGES[i - 1];
  return i - 0.5 + (minutes - low) / (BUCKET_EDGES[i] - low);
}

function markPercentiles(u) {
  const percentiles = u.percentiles;
  if (!percentiles) return;
  const ctx = u.ctx;
  const { top, height } = u.bbox;
  ctx.save();
  ctx.font = `${12 * uPlot.pxRatio}px system-ui, sans-serif`;
  ctx.strokeStyle = ctx.fillStyle = cssColour("--fg");
  ctx.lineWidth = uPlot.pxRatio;
  [["median", percentiles.p50, [4, 3], 0], ["p90", percentiles.p90, [1, 3], 1]].forEach(([name, minutes, dash, row]) => {
    if (minutes == null) return;
    const x = u.valToPos(bucketPosition(minutes), "x", true);
    ctx.setLineDash(dash.map((d) => d * uPlot.pxRatio));
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    ctx.textAlign = x > u.bbox.left + u.bbox.width / 2 ? "right" : "left";
    const gap = (ctx.textAlign === "right" ? -4 : 4) * uPlot.pxRatio;
    ctx.fillText(`${name} ${formatDuration(minutes)}`, x + gap, top + (14 + 16 * row) * uPlot.pxRatio);
  });
  ctx.restore();
}

function histogramChart(container) {
  const bar = cssColour("--bar");
  return new uPlot(
    {
      width: chartWidth(container),
      height: 240,
      scales: {
        x: { time: false, range: [-0.5, BUCKET_LABELS.length - 0.5] },
        y: { range: (u, min, max) => [0, Math.max(1, max * 1.25)] },
      },
      axes: [
        axis({ space: 34, values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? (BUCKET_LABELS[v] ?? "") : "")) }),
        axis({ label: "tickets", size: 40, incrs: COUNT_STEPS }),
      ],
      series: [
        { label: "Time", value: (u, v) => (v == null ? "–" : BUCKET_LABELS[v]) },
        { label: "Tickets", stroke: bar, fill: `${bar}99`, width: 1, paths: uPlot.paths.bars({ size: [0.85, 80] }), points: { show: false } },
      ],
      hooks: { draw: [markPercentiles] },
    },
    [[], []],
    container,
  );
}

function renderDistribution(metric, distribution) {
  const { percentiles, count } = distribution;
  $(`#${metric} [data-summary]`).textContent =
    count === 0
      ? `No ${metric === "hang" ? "answered" : "resolved"} tickets opened since ${sinceThirtyDays()}.`
      : `${count} tickets opened since ${sinceThirtyDays()}: median ${formatDuration(percentiles.p50)}, ` +
        `90th percentile ${formatDuration(percentiles.p90)}.`;
  const data = [distribution.buckets.map((_, i) => i), distribution.buckets.map((bucket) => bucket.count)];
  drawChart(metric, histogramChart, data, percentiles);
}

function drawChart(id, make, data, percentiles) {
  let entry = charts.get(id);
  if (!entry) {
    const container = $(`#${id}-chart`);
    entry = { make, container, chart: make(container) };
    charts.set(id, entry);
    container.uplot = entry.chart; // for a look from the browser's console (and the tests)
  }
  entry.data = data;
  entry.chart.percentiles = percentiles;
  entry.chart.setData(data);
}

// New colours (dark mode switched) need new charts: uPlot keeps the ones it was made with.
function remakeCharts() {
  for (const entry of charts.values()) {
    const percentiles = entry.chart.percentiles;
    entry.chart.destroy();
    entry.chart = entry.make(entry.container);
    entry.container.uplot = entry.chart;
    entry.chart.percentiles = percentiles;
    entry.chart.setData(entry.data);
  }
}

// ---------------------------------------------------------------- refresh, status and the key

function showKeyPrompt(refused, message = "This service needs an API key to show its figures.") {
  $("#key-message").textContent = refused ? "The saved API key was refused. Enter another to see the figures." : message;
  $("#key-form").hidden = false;
}

function showStatus(failure) {
  const banner = $("#unreachable");
  if (failure) {
    banner.textContent =
      `The service cannot be reached (tried at ${clock(new Date())}). ` +
      (lastGood ? `The figures below are from ${clock(lastGood)}.` : "No figures yet.") +
      " Trying again every 30 seconds.";
  }
  banner.hidden = !failure;
  $("#forget-key").hidden = !storedKey();
  if (lastGood) {
    const time = element("time", { dateTime: lastGood.toISOString() }, clock(lastGood));
    $("#updated").replaceChildren("Updated ", time);
  }
}

// A part the API would not answer (a 4xx other than 401) says so in place, keeping what it showed.
function showProblem(shown, message) {
  let problem = shown.querySelector(".problem");
  if (!message) {
    problem?.remove();
    return;
  }
  if (!problem) {
    problem = element("p", { className: "problem", role: "status" });
    const heading = shown.querySelector(":scope > h2");
    if (heading) heading.after(problem);
    else shown.prepend(problem);
  }
  problem.textContent = `Not shown: ${message}.`;
}

async function refresh() {
  if (refreshing) {
    refreshAgain = true; // e.g. a key given while a round was on its way: run once more with it
    return;
  }
  refreshing = true;
  try {
    const results = await Promise.allSettled(sections.map((section) => getJSON(section.url())));
    let unreachable = false;
    let keyNeeded = false;
    results.forEach((result, i) => {
      const section = sections[i];
      const shown = document.getElementById(section.id);
      if (result.status === "rejected") {
        unreachable ||= result.reason instanceof Unreachable;
        keyNeeded ||= result.reason instanceof KeyNeeded;
        if (!(result.reason instanceof Unreachable || result.reason instanceof KeyNeeded)) {
          showProblem(shown, result.reason.message);
        }
        return;
      }
      showProblem(shown, null);
      if (result.value === NOT_MODIFIED) return;
      section.render(result.value);
      shown.dataset.renders = String(Number(shown.dataset.renders || 0) + 1);
    });
    if (keyNeeded) showKeyPrompt(Boolean(storedKey()));
    else if (!keyFormWanted) $("#key-form").hidden = true;
    if (!unreachable && !keyNeeded) lastGood = new Date();
    tickAges();
    showStatus(unreachable);
  } finally {
    refreshing = false;
  }
  if (refreshAgain) {
    refreshAgain = false;
    refresh();
  }
}

function start() {
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    keyFormWanted = false;
    localStorage.setItem(KEY_STORAGE, $("#key-input").value.trim());
    $("#key-input").value = "";
    etags.clear(); // another key may see more (question text)
    refresh();
  });
  $("#queue-key").addEventListener("click", () => {
    keyFormWanted = true;
    showKeyPrompt(false, "An API key shows the questions' text too.");
    $("#key-input").focus();
  });
  $("#forget-key").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORAGE);
    // What only the key could read goes with it, even if the next answer is a 401.
    document.querySelectorAll("#queue-list .description").forEach((text) => text.remove());
    etags.clear();
    refresh();
  });
  const resized = new ResizeObserver(() => {
    for (const entry of charts.values()) {
      entry.chart.setSize({ width: chartWidth(entry.container), height: entry.chart.height });
    }
  });
  document.querySelectorAll(".chart").forEach((container) => resized.observe(container));
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", remakeCharts);
  refresh();
  setInterval(refresh, REFRESH_MS);
}

start();
