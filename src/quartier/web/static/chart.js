// A Datastream's time series as a chart (uPlot), with a range picker and zoom. Long
// ranges come from the server grouped into buckets (/api/datastreams/{id}/series).
import uPlot from "./vendor/uplot/uPlot.esm.js";
import { dateTime, duration, lang, number, quantity, t } from "./i18n.js";
import { getJson, h } from "./util.js";

export const RANGES = [["h1", 3600], ["h6", 6 * 3600], ["d1", 86400], ["d7", 7 * 86400],
  ["d30", 30 * 86400], ["y1", 365 * 86400]];

function dateNames() {
  const month = (style) => Array.from({ length: 12 }, (_, i) =>
    new Intl.DateTimeFormat(lang(), { month: style, timeZone: "UTC" }).format(new Date(Date.UTC(2026, i, 15))));
  const day = (style) => Array.from({ length: 7 }, (_, i) =>
    new Intl.DateTimeFormat(lang(), { weekday: style, timeZone: "UTC" }).format(new Date(Date.UTC(2026, 1, 1 + i))));
  return { MMMM: month("long"), MMM: month("short"), WWWW: day("long"), WWW: day("short") };
}

/** A chart panel for one Datastream; ``end`` is "now" unless given (ms). */
export function chartPanel(datastream, { range = "d1", height = 260, extraLines = [] } = {}) {
  const plotBox = h("div", { class: "plot", role: "img", "aria-label": t("loading") });
  const note = h("p", { class: "chart-note" });
  let current = range;
  let plot = null;
  let end = Date.now();
  const buttons = RANGES.map(([key]) => h("button", {
    type: "button", "aria-pressed": String(key === current), dataset: { range: key },
    onclick: () => { current = key; end = Date.now(); for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.range === key)); load(); },
  }, t(`chart.${key}`)));
  const panel = h("div", { class: "chart-panel", dataset: { datastream: datastream.id } },
    h("div", { class: "ranges", role: "group", "aria-label": t("chart.range") }, buttons),
    plotBox, note, h("p", { class: "hint" }, t("chart.zoom")));

  async function load(from = null, to = null) {
    const seconds = RANGES.find(([key]) => key === current)[1];
    const stop = to ?? end;
    const start = from ?? stop - seconds * 1000;
    const width = Math.max(300, plotBox.clientWidth || 600);
    const points = Math.min(4000, Math.max(200, Math.round(width * 2)));
    const params = new URLSearchParams({ from: new Date(start).toISOString(), to: new Date(stop).toISOString(), points: String(points) });
    const series = await getJson(`/api/datastreams/${datastream.id}/series?${params}`);
    draw(series, start, stop, width);
  }

  function draw(series, start, stop, width) {
    if (plot) { plot.destroy(); plot = null; }
    plotBox.replaceChildren();
    const numeric = series.values.filter((v) => typeof v[1] === "number" || typeof v[1] === "boolean");
    if (!series.values.length || !numeric.length) {
      const text = series.values.length ? t("chart.text") : t("chart.empty");
      plotBox.setAttribute("aria-label", text);
      plotBox.append(h("p", { class: "empty" }, text));
      note.textContent = "";
      panel.dataset.points = "0";
      return;
    }
    const xs = numeric.map((v) => new Date(v[0]).getTime() / 1000);
    const value = (v) => (typeof v === "boolean" ? Number(v) : v);
    const data = [xs, numeric.map((v) => value(v[1]))];
    const unit = datastream.unit;
    const fmt = (u, v) => (v === null || v === undefined ? "–" : quantity(v, unit));
    const seriesOpts = [{}, { label: series.aggregated ? t("chart.mean") : datastream.name, stroke: "#1f5fa8", width: 2, value: fmt }];
    if (series.aggregated) {
      data.push(numeric.map((v) => v[2]), numeric.map((v) => v[3]));
      seriesOpts.push({ label: t("chart.min"), stroke: "#7aa6d6", width: 1, dash: [4, 3], value: fmt },
        { label: t("chart.max"), stroke: "#0b3d75", width: 1, dash: [4, 3], value: fmt });
    }
    for (const line of extraLines) {
      data.push(xs.map(() => line.value));
      seriesOpts.push({ label: line.label, stroke: line.color, width: 1.5, dash: [8, 4], value: fmt });
    }
    const names = dateNames();
    plot = new uPlot({
      width, height,
      scales: { x: { time: true, min: start / 1000, max: stop / 1000 } },
      series: seriesOpts,
      axes: [{ values: (u, splits, axisIdx, space, incr) => splits.map((s) => {
        const d = new Date(s * 1000);
        const opts = incr >= 86400 ? { day: "numeric", month: "short" } : { hour: "2-digit", minute: "2-digit" };
        return new Intl.DateTimeFormat(lang(), opts).format(d);
      }) }, { values: (u, splits) => splits.map((v) => number(v)) }],
      fmtDate: (tpl) => uPlot.fmtDate(tpl, names),
      cursor: { drag: { x: true, y: false } },
      hooks: { setSelect: [(u) => {
        if (u.select.width < 5) return;
        const a = u.posToVal(u.select.left, "x") * 1000;
        const b = u.posToVal(u.select.left + u.select.width, "x") * 1000;
        u.setSelect({ left: 0, width: 0 }, false);
        load(a, b); // the zoomed range again from the server, in finer detail
      }] },
    }, data, plotBox);
    plotBox.querySelector(".u-over")?.addEventListener("dblclick", () => load());
    const nums = data[1].filter((v) => v !== null);
    const summary = t("chart.summary", {
      name: datastream.name, n: number(series.count), from: dateTime(new Date(start)), to: dateTime(new Date(stop)),
      min: quantity(Math.min(...(series.aggregated ? data[2] : nums)), unit),
      max: quantity(Math.max(...(series.aggregated ? data[3] : nums)), unit),
    });
    plotBox.setAttribute("aria-label", summary);
    note.textContent = series.aggregated
      ? t("chart.aggregated", { interval: duration(series.interval), n: number(series.count) })
      : t("chart.raw", { n: number(series.count) });
    panel.dataset.points = String(xs.length);
  }

  return {
    element: panel,
    load: () => load().catch((error) => { plotBox.replaceChildren(h("p", { role: "alert" }, t("error", { message: error.message }))); }),
    destroy: () => { if (plot) plot.destroy(); },
  };
}
