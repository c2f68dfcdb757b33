// A day's curves of several things in one chart (uPlot): one line per station or lot,
// told apart by dash pattern and legend as well as by colour, with a text summary and
// the values as a table for those who cannot see the chart.
import uPlot from "./vendor/uplot/uPlot.esm.js";
import { lang, number, t } from "./i18n.js";
import { h } from "./util.js";

const COLOURS = ["#1f5fa8", "#b54708", "#1a7f37", "#7a1f5c", "#5a6570", "#8a6d00", "#0b7a8a", "#b42318", "#3d3d9e", "#6b4f2a"];
const DASHES = [[], [8, 4], [2, 3], [10, 3, 2, 3], [4, 4]];

function clock(iso) {
  return new Intl.DateTimeFormat(lang(), { hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
}

/**
 * ``series``: [{label, points: [[iso time, value], …]}]; ``format(v)`` writes a value with
 * its unit; ``lines``: [{value, label}] drawn as dashed reference lines.
 */
export function dayChart({ id, title, series, from, to, format, lines = [], yRange = null, summary }) {
  const plotBox = h("div", { class: "plot", role: "img", "aria-label": summary });
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort();
  const table = h("details", { class: "values" }, h("summary", {}, t("day.table")),
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "sr-only" }, title),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("day.time")), series.map((s) => h("th", { scope: "col" }, s.label)))),
      h("tbody", {}, times.map((time) => h("tr", {}, h("th", { scope: "row" }, clock(time)),
        series.map((s) => { const p = s.points.find((x) => x[0] === time); return h("td", { class: "num" }, p && p[1] !== null ? format(p[1]) : "–"); })))))));
  const element = h("figure", { class: "day-chart", id, dataset: { series: series.length, points: times.length } },
    h("figcaption", {}, title), plotBox, times.length ? table : h("p", { class: "empty" }, t("chart.empty")));
  let plot = null;

  function draw() {
    if (!times.length) return;
    const xs = times.map((time) => new Date(time).getTime() / 1000);
    const data = [xs, ...series.map((s) => {
      const byTime = new Map(s.points.map((p) => [p[0], p[1]]));
      return times.map((time) => (byTime.has(time) ? byTime.get(time) : null));
    })];
    const opts = [{}, ...series.map((s, i) => ({
      label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, dash: DASHES[i % DASHES.length],
      spanGaps: true, value: (u, v) => (v === null || v === undefined ? "–" : format(v)),
    }))];
    for (const line of lines) {
      data.push(xs.map(() => line.value));
      opts.push({ label: line.label, stroke: "#b42318", width: 1.5, dash: [6, 6], value: () => format(line.value) });
    }
    const width = Math.max(300, plotBox.clientWidth || 640);
    plot = new uPlot({
      width, height: 240, series: opts,
      scales: { x: { time: true, min: new Date(from).getTime() / 1000, max: new Date(to).getTime() / 1000 },
        ...(yRange ? { y: { range: yRange } } : {}) },
      axes: [{ values: (u, splits) => splits.map((s) => clock(new Date(s * 1000).toISOString())) },
        { values: (u, splits) => splits.map((v) => number(v)) }],
    }, data, plotBox);
  }

  return { element, draw, destroy: () => { if (plot) plot.destroy(); } };
}

/** "8 values from 00:00 to 14:00" style helpers for summaries. */
export function clockTime(iso) { return clock(iso); }
