// The flood view: every water gauge with its level, its reporting levels and the trend.
import { ago, dateTime, quantity, t } from "./i18n.js";
import * as live from "./live.js";
import { chartPanel } from "./chart.js";
import { all, getJson, h, timeOf } from "./util.js";

const STAGE_COLOURS = ["#8a6d00", "#b54708", "#b42318", "#7a1f5c"];
const TREND_SYMBOL = { rising: "↑", falling: "↓", steady: "→" };

function stagesOf(datastream) {
  const raw = datastream.properties?.stages;
  if (!raw) return [];
  const values = Array.isArray(raw) ? raw : Object.keys(raw).sort().map((k) => raw[k]);
  return values.map(Number).filter((v) => Number.isFinite(v));
}

function stageOf(level, stages) {
  let stage = 0;
  stages.forEach((s, i) => { if (level >= s) stage = i + 1; });
  return stage;
}

async function trendOf(datastream) {
  const to = new Date();
  const from = new Date(to.getTime() - 3600 * 1000);
  const series = await getJson(`/api/datastreams/${datastream.id}/series?from=${from.toISOString()}&to=${to.toISOString()}`);
  const numbers = series.values.map((v) => v[1]).filter((v) => typeof v === "number");
  if (numbers.length < 2) return "steady";
  const change = numbers[numbers.length - 1] - numbers[0];
  return change > 2 ? "rising" : change < -2 ? "falling" : "steady";
}

function bands(level, stages, unit) {
  // A bar from 0 to a bit above the highest stage, with the stages as marks: the
  // numbers are written out too, so nothing depends on colour.
  const top = Math.max(level ?? 0, ...stages) * 1.1 || 1;
  const pct = (v) => `${Math.min(100, Math.max(0, (v / top) * 100)).toFixed(1)}%`;
  return h("div", { class: "bands", "aria-hidden": "true" },
    stages.map((s, i) => h("span", { class: "band-mark", style: `left:${pct(s)};border-color:${STAGE_COLOURS[i]}` },
      h("span", { class: "band-label" }, String(i + 1)))),
    level !== null && level !== undefined ? h("span", { class: "band-level", style: `width:${pct(level)}` }) : null,
    h("span", { class: "sr-only" }, quantity(level, unit)));
}

export async function floodPage(main) {
  const things = await all("/v1.1/Things?$filter=properties/kind eq 'gauge'&$orderby=name&$top=200"
    + "&$expand=Datastreams($select=id,name,unitOfMeasurement,properties;"
    + "$expand=Observations($select=result,phenomenonTime;$orderby=phenomenonTime desc;$top=1))");
  const gauges = things.map((thing) => {
    const d = thing.Datastreams.find((x) => x.properties?.stages) || thing.Datastreams[0];
    return d ? { thing, datastream: { id: d["@iot.id"], name: d.name, unit: d.unitOfMeasurement, properties: d.properties || {},
      result: d.Observations?.[0]?.result, time: timeOf(d.Observations?.[0]?.phenomenonTime) } } : null;
  }).filter(Boolean);
  const trends = await Promise.all(gauges.map((g) => trendOf(g.datastream).catch(() => "steady")));
  const cards = new Map();
  let chart = null;
  const chartBox = h("div", { id: "flood-chart" });

  function card(gauge, trend) {
    const { thing, datastream: d } = gauge;
    const stages = stagesOf(d);
    const stage = typeof d.result === "number" ? stageOf(d.result, stages) : 0;
    const stageText = stage ? t("flood.stageN", { n: stage }) : t("flood.stage0");
    return h("article", { class: `gauge stage-${stage}`, dataset: { thing: thing["@iot.id"], stage } },
      h("h2", {}, h("a", { href: `#/things/${thing["@iot.id"]}` }, thing.name)),
      h("dl", {},
        h("dt", {}, t("flood.level")), h("dd", { class: "level" }, quantity(d.result, d.unit),
          d.time ? h("small", {}, " · ", h("time", { datetime: d.time, title: dateTime(d.time) }, ago(d.time))) : ""),
        h("dt", {}, t("flood.stage")), h("dd", { class: "stage" }, h("span", { class: `stage-badge s${stage}` }, stage ? `${stage}` : "0"), " ", stageText),
        h("dt", {}, t("flood.trend")), h("dd", { class: "trend" }, h("span", { "aria-hidden": "true" }, TREND_SYMBOL[trend]), " ", t(`flood.${trend}`)),
        h("dt", {}, t("flood.bands")), h("dd", {}, stages.map((s, i) => `${i + 1}: ${quantity(s, d.unit)}`).join(" · "))),
      bands(d.result, stages, d.unit),
      h("button", { type: "button", class: "show-chart", "aria-label": `${t("thing.show")}: ${thing.name}`,
        onclick: () => {
          if (chart) chart.destroy();
          chart = chartPanel(d, { range: "d7", extraLines: stages.map((s, i) => ({ value: s, label: t("flood.stageN", { n: i + 1 }), color: STAGE_COLOURS[i] })) });
          chartBox.replaceChildren(h("h2", {}, `${t("thing.chart")}: ${thing.name}`), chart.element);
          chart.load();
        } }, t("thing.show")));
  }

  const grid = h("div", { class: "gauges" });
  gauges.forEach((g, i) => { const el = card(g, trends[i]); cards.set(g.datastream.id, [g, trends[i], el]); grid.append(el); });
  main.replaceChildren(h("h1", {}, t("flood.title")), gauges.length ? grid : h("p", {}, t("flood.none")), chartBox);
  const off = live.on("values", (values) => {
    for (const [datastream, time, result] of values) {
      const found = cards.get(datastream);
      if (!found) continue;
      const [g, trend, el] = found;
      g.datastream.result = result; g.datastream.time = time;
      const fresh = card(g, trend);
      el.replaceWith(fresh);
      cards.set(datastream, [g, trend, fresh]);
    }
  });
  return () => { off(); if (chart) chart.destroy(); };
}
