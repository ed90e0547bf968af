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
const QUEUE_SHOWN = 10; // the longest-waiting questions listed; the rest are counted ("and 40 more")
const ATTENTION_SHOWN = 10; // of each: tickets breached, tickets at risk (the rest are counted)
const CLOCK_NAMES = { first_response: "first response", next_response: "next response", resolution: "resolution" };
const DAY_SECONDS = 86400;
const TODAY_ROOM = 20; // pixels above the 30-day chart's plot, for its "today (so far)" label
// Numbers in the reader's locale, grouped by thousands ("20,000"), as uPlot writes its axes' ticks.
const COUNT_FORMAT = new Intl.NumberFormat();
const DECIMAL_FORMAT = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const PERCENT_FORMAT = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 0 });

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
  return value == null ? "–" : COUNT_FORMAT.format(value);
}

// "1 ticket", "2 tickets" (the page's words are English; the number is the reader's locale's).
function counted(value, one, other) {
  return `${formatCount(value)} ${value === 1 ? one : other}`;
}

function formatDuration(minutes) {
  if (minutes == null) return "–";
  if (minutes < 60) return `${formatCount(Math.round(minutes))} min`;
  if (minutes < 2880) return `${DECIMAL_FORMAT.format(minutes / 60)} h`;
  return `${DECIMAL_FORMAT.format(minutes / 1440)} d`;
}

function formatChange(current, previous, period) {
  const delta = current - previous;
  if (delta === 0) return `= same as the previous ${period}`;
  return `${delta > 0 ? "▲ +" : "▼ −"}${formatCount(Math.abs(delta))} vs the previous ${period}`;
}

// Text a person wrote (a title, a question, a name), isolated from the page's own words around it:
// a right-to-left override in it cannot reverse what follows ("waiting 3 min").
function userText(text, properties = {}) {
  return element("bdi", properties, text);
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

// Today (UTC) and the 6 days before, as the 30-day sections count theirs.
function sinceSevenDays() {
  return new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10);
}

const sections = [
  { id: "numbers", url: () => "/api/stats_v2", render: renderStats },
  { id: "times", url: () => "/api/stats/response_times", render: renderResponseTimes },
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
  { id: "queue", url: () => `/api/unanswered?limit=${QUEUE_SHOWN}`, render: renderQueue },
  { id: "sla", url: () => `/api/stats/sla?since=${sinceSevenDays()}`, render: renderSla },
  { id: "attention", url: () => `/api/sla/attention?limit=${ATTENTION_SHOWN}`, render: renderAttention },
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

// First response in support hours, all time, beside stats_v2's wall-clock means.
function renderResponseTimes(times) {
  for (const shown of document.querySelectorAll("[data-response]")) {
    shown.textContent = formatDuration(field(times, shown.dataset.response));
  }
}

function renderLeaderboard(entries) {
  const list = $("#leaderboard-list");
  if (!entries.length) {
    list.replaceChildren(element("li", { className: "none" }, "No tickets closed by helpers in the last 7 days."));
    return;
  }
  const most = entries[0].count;
  list.replaceChildren(
    ...entries.slice(0, 10).map((entry) => {
      const bar = element("span", { className: "bar" });
      bar.style.width = `${(100 * entry.count) / most}%`;
      // `username` (string or null) where the API knows it; the Slack id otherwise.
      const name = entry.username || entry.slack_id;
      return element(
        "li",
        {},
        userText(name, { className: "name", title: name }),
        element("span", {}, bar),
        element("span", { className: "count" }, formatCount(entry.count)),
      );
    }),
  );
}

function renderQueue(queue) {
  const beyond = queue.total - queue.tickets.length;
  $("#queue-note").textContent = queue.total === 0 ? "Nobody is waiting." : `${formatCount(queue.total)} waiting, longest first.`;
  $("#queue-more").textContent = beyond > 0 ? `and ${formatCount(beyond)} more` : "";
  $("#queue-more").hidden = beyond <= 0;
  // The API leaves out question text for readers without a key (API_DESCRIPTIONS=keys): offer to give one.
  $("#queue-key").hidden = queue.tickets.every((ticket) => "description" in ticket);
  $("#queue-list").replaceChildren(
    ...queue.tickets.map((ticket) => {
      const item = element(
        "li",
        {},
        element("a", { href: ticket.link, target: "_blank", rel: "noopener" }, userText(ticket.title || `Ticket #${ticket.id}`)),
        " ",
        element("span", { className: "waiting" }, ageText(ticket.waiting_minutes)),
      );
      // Present only when the reader may see question text (API_DESCRIPTIONS).
      if (typeof ticket.description === "string" && ticket.description) {
        item.append(element("p", { className: "description", dir: "auto" }, ticket.description));
      }
      return item;
    }),
  );
}

// Per clock: the share of decided clocks (met or breached) that met their target, and the counts.
function renderSla(figures) {
  let withTarget = 0;
  for (const shown of document.querySelectorAll("#sla-figures [data-clock]")) {
    const clock = figures[shown.dataset.clock];
    withTarget += clock.with_target;
    $(".compliance", shown).textContent = clock.compliance == null ? "–" : PERCENT_FORMAT.format(clock.compliance);
    $(".change", shown).textContent = clock.with_target
      ? `${formatCount(clock.met)} met, ${formatCount(clock.breached)} missed, ${formatCount(clock.running)} running`
      : "no target";
  }
  $("#sla-note").textContent = withTarget
    ? "Of the tickets asked since then whose clock met or missed its target (support hours)."
    : "No ticket asked since then has an SLA target.";
}

// The tickets whose clock is past its target (breached) or past its warning point (at risk), linked.
function renderAttention(attention) {
  const shown = attention.tickets.length;
  const total = attention.breached + attention.at_risk;
  $("#attention-note").textContent =
    total === 0
      ? "Nothing is breached or at risk."
      : `${formatCount(attention.breached)} breached, ${formatCount(attention.at_risk)} at risk` +
        (shown < total ? ` (the first ${formatCount(shown)} listed).` : ".");
  $("#attention-list").replaceChildren(
    ...attention.tickets.map((ticket) => {
      const breached = ticket.state === "breached";
      const left = breached
        ? `${CLOCK_NAMES[ticket.clock]} over by ${formatDuration(-ticket.minutes_left)}`
        : `${CLOCK_NAMES[ticket.clock]} due in ${formatDuration(ticket.minutes_left)}`;
      return element(
        "li",
        { className: ticket.state },
        element("span", { className: "state" }, breached ? "breached" : "at risk"),
        " ",
        element("a", { href: ticket.link, target: "_blank", rel: "noopener" }, userText(ticket.title || `Ticket #${ticket.id}`)),
        " ",
        element("span", { className: "left" }, left),
      );
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

// A y axis as wide as its widest tick label (after uPlot's axis-autosize demo): a fixed width let
// "1,000" run into the rotated axis title beside it.
function fitTickLabels(u, values, axisIdx, cycleNum) {
  const shown = u.axes[axisIdx];
  if (cycleNum > 1) return shown._size; // uPlot asks again while ticks change; settle on the last answer
  u.ctx.font = shown.font[0];
  const widest = Math.max(0, ...(values ?? []).map((value) => u.ctx.measureText(String(value)).width));
  return Math.ceil(shown.ticks.size + shown.gap + widest / uPlot.pxRatio);
}

// A label placed over a chart's plot as a DOM element, kept on the chart (made once, moved on each draw).
function overlay(u, key, className) {
  u.overlays ??= {};
  return (u.overlays[key] ??= u.over.appendChild(element("span", { className })));
}

// Tops for labels that want to sit at `want` (each `height` tall), moved apart as little as needed so
// that none overlaps another, within [low, high] where there is room for them all.
function spreadApart(labels, low, high) {
  const ordered = [...labels].sort((a, b) => a.want - b.want);
  let floor = low;
  for (const label of ordered) {
    label.top = Math.max(label.want, floor);
    floor = label.top + label.height;
  }
  let ceiling = high;
  for (const label of [...ordered].reverse()) {
    label.top = Math.min(label.top, ceiling - label.height);
    ceiling = label.top;
  }
  floor = low; // too many for the room: stack them from the top, still apart
  for (const label of ordered) {
    label.top = Math.max(label.top, floor);
    floor = label.top + label.height;
  }
}

// Today is not over: its point stands apart (the lines stop at yesterday), on a band labelled
// "today (so far)" (above the plot, in room kept for it: TODAY_ROOM), so that a low count this
// morning does not read as a collapse.
function markToday(u) {
  const days = u.data[0];
  const band = overlay(u, "band", "partial-day");
  const label = overlay(u, "label", "partial-day-label");
  band.hidden = label.hidden = days.length === 0;
  if (!days.length) return;
  const width = u.over.clientWidth;
  const left = Math.max(0, u.valToPos(days.at(-1) - DAY_SECONDS / 2, "x"));
  const right = Math.min(width, u.valToPos(days.at(-1) + DAY_SECONDS / 2, "x"));
  Object.assign(band.style, { left: `${left}px`, width: `${Math.max(0, right - left)}px` });
  label.textContent = "today (so far)";
  label.style.top = `${-label.offsetHeight - 2}px`;
  // A faint link from yesterday's point to today's, so each point still reads as its line's.
  const last = days.length - 1;
  if (last < 1) return;
  const ctx = u.ctx;
  ctx.save();
  ctx.globalAlpha = 0.45;
  ctx.lineWidth = uPlot.pxRatio;
  u.series.forEach((series, i) => {
    const values = u.data[i];
    if (i === 0 || !series.show || values[last] == null || values[last - 1] == null) return;
    ctx.strokeStyle = series._stroke;
    ctx.setLineDash([2 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
    ctx.beginPath();
    ctx.moveTo(u.valToPos(days[last - 1], "x", true), u.valToPos(values[last - 1], series.scale, true));
    ctx.lineTo(u.valToPos(days[last], "x", true), u.valToPos(values[last], series.scale, true));
    ctx.stroke();
  });
  ctx.restore();
}

// Each series' name written beside where its line ends (yesterday), so the chart reads without colour.
// DOM elements, spread apart so that no two overlap (all three lines end at 0 on an empty desk).
function labelLineEnds(u) {
  const days = u.data[0];
  const end = days.length - (days.length > 1 ? 2 : 1);
  const labels = [];
  u.series.forEach((series, i) => {
    if (i === 0) return;
    const shown = overlay(u, `end-${i}`, `line-end ${series.label.toLowerCase()}`);
    shown.textContent = series.label;
    shown.hidden = !series.show || end < 0 || u.data[i][end] == null;
    if (shown.hidden) return;
    const x = u.valToPos(days[end], "x");
    const y = u.valToPos(u.data[i][end], series.scale);
    shown.style.right = `${u.over.clientWidth - x + 6}px`;
    labels.push({ shown, want: y - 3 - shown.offsetHeight, height: shown.offsetHeight });
  });
  spreadApart(labels, 0, u.over.clientHeight);
  for (const { shown, top } of labels) shown.style.top = `${top}px`;
}

function isoDay(ts) {
  return new Date(ts * 1000).toISOString().slice(0, 10);
}

function dailyChart(container) {
  const linear = uPlot.paths.linear();
  const series = (label, colour, dash, scale = "y") => ({
    label,
    scale,
    stroke: cssColour(colour),
    width: 2,
    dash,
    points: { show: true, size: 5, fill: cssColour(colour) },
    // The line runs to yesterday; markToday draws today's link apart.
    paths: (u, i, first, last) => linear(u, i, first, Math.max(first, Math.min(last, u.data[0].length - 2))),
    // Not hovered: the latest day's value (uPlot passes no index), never a bare dash.
    value: (u, v, i, index) => formatCount(index == null ? u.data[i].at(-1) : v),
  });
  return new uPlot(
    {
      width: chartWidth(container),
      height: 260 + TODAY_ROOM,
      padding: [TODAY_ROOM, null, null, null],
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: {
        // Half a day of room at each end, so the first and last days have their whole width.
        x: { time: true, range: (u, min, max) => (min == null ? [min, max] : [min - DAY_SECONDS / 2, max + DAY_SECONDS / 2]) },
        y: { range: (u, min, max) => [0, Math.max(1, max)] },
      },
      axes: [
        axis(),
        axis({ label: "per day", size: fitTickLabels, incrs: COUNT_STEPS }),
        axis({ scale: "backlog", side: 1, label: "backlog", size: fitTickLabels, grid: { show: false }, incrs: COUNT_STEPS }),
      ],
      series: [
        {
          label: "Day",
          value: (u, ts, i, index) => {
            const days = u.data[0];
            if (!days.length) return "–";
            const shown = index ?? days.length - 1;
            return shown === days.length - 1 ? `${isoDay(days[shown])}, today (so far)` : isoDay(days[shown]);
          },
        },
        series("New", "--new", []),
        series("Closed", "--closed", [6, 4]),
        series("Backlog", "--backlog", [2, 3], "backlog"),
      ],
      legend: { markers: { dash: (u, i) => (u.series[i].dash && u.series[i].dash.length ? "dashed" : "solid") } },
      hooks: { draw: [markToday, labelLineEnds] },
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
    `New and closed tickets each day, and the backlog (unresolved) at each day's end; days in ${daily.tz}. ` +
    "Today is still going: its figures are so far.";
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
        axis({ label: "tickets", size: fitTickLabels, incrs: COUNT_STEPS }),
      ],
      series: [
        // Not hovered: every bucket, and the tickets in them all.
        { label: "Time", value: (u, v, i, index) => (index == null ? "all" : BUCKET_LABELS[v]) },
        {
          label: "Tickets",
          stroke: bar,
          fill: `${bar}99`,
          width: 1,
          paths: uPlot.paths.bars({ size: [0.85, 80] }),
          points: { show: false },
          value: (u, v, i, index) => formatCount(index == null ? u.data[i].reduce((sum, count) => sum + count, 0) : v),
        },
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
      : `${counted(count, "ticket", "tickets")} opened since ${sinceThirtyDays()}: median ${formatDuration(percentiles.p50)}, ` +
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
