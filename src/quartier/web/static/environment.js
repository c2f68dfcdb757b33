// The environment view: each air-quality station rated now (German air quality index,
// EU limit values), today's hourly curves per pollutant, and today's counts.
import { ago, dateTime, lang, number, quantity, t } from "./i18n.js";
import * as live from "./live.js";
import { clockTime, dayChart } from "./daychart.js";
import { mapBox, pointMap } from "./pointmap.js";
import { getJson, h, localDate, timeZone } from "./util.js";

const RATING_SYMBOL = { 1: "✓✓", 2: "✓", 3: "~", 4: "!", 5: "!!" };
const POLLUTANTS = ["no2", "pm10", "pm25"];
const WEATHER = ["temperature", "humidity"];


/** A rating as symbol and word (and colour), never colour alone. */
export function ratingBadge(index) {
  if (!index) return h("span", { class: "aq aq-none" }, t("env.unrated"));
  const word = t(`aq.${index}`);
  return h("span", { class: `aq aq-${index}` }, h("span", { "aria-hidden": "true" }, RATING_SYMBOL[index]), " ", word);
}

function pollutantCell(reading) {
  if (!reading) return h("td", {}, "–");
  const mean = reading.mean === null ? "–" : quantity(reading.mean, reading.unit);
  return h("td", { class: "num", dataset: { index: reading.index ?? "" } },
    h("span", { class: "mean" }, mean), " ", ratingBadge(reading.index),
    reading.exceeded ? h("strong", { class: "exceeded" }, ` ⚠ ${t("env.exceeded", { limit: quantity(reading.limit, reading.unit) })}`) : null,
    h("br"), h("small", { class: "latest" }, t("env.latest", { value: quantity(reading.value, reading.unit) })));
}

function stationRow(station) {
  const r = station.readings;
  const times = Object.values(r).map((x) => x.time).filter(Boolean).sort();
  const newest = times[times.length - 1];
  return h("tr", { id: `station-${station.id}`, dataset: { station: station.id }, tabindex: "-1" },
    h("th", { scope: "row" }, h("a", { href: `#/things/${station.id}` }, station.name)),
    POLLUTANTS.map((key) => pollutantCell(r[key])),
    WEATHER.map((key) => h("td", { class: "num" }, r[key] ? quantity(r[key].value, r[key].unit) : "–")),
    h("td", { class: "rating" }, ratingBadge(station.index)),
    h("td", {}, newest ? h("time", { datetime: newest, title: dateTime(newest) }, ago(newest)) : "–"));
}

function airTable(air) {
  const windows = Object.fromEntries(air.pollutants.map((p) => [p.key, p.window]));
  const head = (key) => h("th", { scope: "col" }, t(`env.${key}`), windows[key] ? h("br") : null,
    windows[key] ? h("small", {}, t(windows[key] === "PT1H" ? "env.mean1h" : "env.mean24h")) : null);
  return h("div", { class: "table-wrap" }, h("table", { id: "stations", class: "stations" },
    h("caption", {}, t("env.caption")),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("env.station")), [...POLLUTANTS, ...WEATHER].map(head),
      h("th", { scope: "col" }, t("env.rating")), h("th", { scope: "col" }, t("env.updated")))),
    h("tbody", {}, air.value.map(stationRow))));
}

function legend() {
  return h("ul", { class: "legend", "aria-label": t("env.legend") },
    [1, 2, 3, 4, 5].map((i) => h("li", {}, ratingBadge(i))));
}

function pollutantCharts(day) {
  return day.pollutants.map((p) => {
    const unit = p.stations[0]?.unit;
    const all = p.stations.flatMap((s) => s.values.map((v) => ({ station: s.name, time: v[0], value: v[1] })));
    const top = all.reduce((best, v) => (!best || v.value > best.value ? v : best), null);
    const summary = top ? t("env.chartSummary", { pollutant: p.name, n: number(p.stations.length),
      max: quantity(top.value, unit), station: top.station, time: clockTime(top.time) })
      : t("chart.empty");
    const nearLimit = p.limit && top && top.value > p.limit / 2;
    return dayChart({
      id: `chart-${p.key}`, title: t("env.chartTitle", { pollutant: p.name }), from: day.from, to: day.to, summary,
      series: p.stations.map((s) => ({ label: s.name, points: s.values.map((v) => [v[0], v[1]]) })),
      format: (v) => quantity(v, unit),
      lines: nearLimit ? [{ value: p.limit, label: t("env.limit") }] : [],
    });
  });
}

function countsSection(day) {
  if (!day.counters.length) return h("p", {}, t("env.nocounters"));
  const busiest = (c) => c.hourly.reduce((best, v) => (!best || v[1] > best[1] ? v : best), null);
  const rows = day.counters.map((c) => {
    const top = busiest(c);
    return h("tr", { dataset: { counter: c.id } },
      h("th", { scope: "row" }, h("a", { href: `#/things/${c.id}` }, c.name)),
      h("td", { class: "num total" }, number(c.total)),
      h("td", {}, top ? `${clockTime(top[0])} (${number(top[1])})` : "–"),
      h("td", {}, h("details", {}, h("summary", {}, t("env.byStream", { n: number(c.datastreams.length) })),
        h("ul", { class: "plain" }, c.datastreams.map((d) => h("li", {}, `${d.name}: ${number(d.total)}`))))));
  });
  const chart = dayChart({
    id: "chart-counts", title: t("env.countsChart"), from: day.from, to: day.to,
    summary: t("env.countsSummary", { n: number(day.counters.length), total: number(day.counters.reduce((a, c) => a + c.total, 0)) }),
    series: day.counters.map((c) => ({ label: c.name, points: c.hourly })), format: (v) => number(v),
  });
  return [h("div", { class: "table-wrap" }, h("table", { id: "counters" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("env.counter")), h("th", { scope: "col" }, t("env.countToday")),
      h("th", { scope: "col" }, t("env.busiest")), h("th", { scope: "col" }, t("env.details")))),
    h("tbody", {}, rows))), chart];
}

export async function environmentPage(main, config) {
  const [air, day] = await Promise.all([getJson("/api/environment/air"),
    getJson(`/api/environment/day?date=${localDate()}&tz=${encodeURIComponent(timeZone())}`)]);
  const box = mapBox("env-map", t("env.map"));
  const charts = pollutantCharts(day);
  const counts = countsSection(day);
  const countCharts = Array.isArray(counts) ? [counts[1]] : [];
  main.replaceChildren(
    h("h1", {}, t("env.title")),
    h("section", { "aria-labelledby": "air-heading" },
      h("h2", { id: "air-heading" }, t("env.now")),
      h("p", { class: "hint" }, t("env.explain")),
      air.value.length ? [box, legend(), airTable(air)] : h("p", {}, t("env.none"))),
    h("section", { "aria-labelledby": "curve-heading" },
      h("h2", { id: "curve-heading" }, t("env.today", { date: new Intl.DateTimeFormat(lang(), { dateStyle: "full" }).format(new Date()) })),
      h("div", { class: "day-charts" }, charts.map((c) => c.element))),
    h("section", { "aria-labelledby": "counts-heading" },
      h("h2", { id: "counts-heading" }, t("env.counts")), counts));
  for (const c of [...charts, ...countCharts]) c.draw();
  let map = null;
  if (air.value.length) {
    map = await pointMap(box, config, air.value.map((s) => ({
      id: s.id, lonlat: s.position, text: s.index ? RATING_SYMBOL[s.index] : "–", cls: `aq-${s.index || "none"}`,
      label: `${s.name}: ${s.index ? t(`aq.${s.index}`) : t("env.unrated")}`,
    })), (id) => { const row = document.getElementById(`station-${id}`); row?.focus(); row?.scrollIntoView({ block: "center" }); });
  }
  // The ratings are means over an hour or a day: read again now and then, and on reconnect.
  const timer = setInterval(() => refresh(), 5 * 60_000);
  const off = live.on("hello", () => refresh());
  async function refresh() {
    const fresh = await getJson("/api/environment/air").catch(() => null);
    const table = document.getElementById("stations");
    if (fresh && table) table.closest(".table-wrap").replaceWith(airTable(fresh));
  }
  return () => { clearInterval(timer); off(); for (const c of [...charts, ...countCharts]) c.destroy(); map?.remove(); };
}
