// The parking view: each lot's bays, free, occupied and occupancy, kept live from the
// bays' values, on a map and in a table; and the day's occupancy curve per lot.
import { ago, dateTime, lang, number, t } from "./i18n.js";
import * as live from "./live.js";
import { clockTime, dayChart } from "./daychart.js";
import { mapBox, pointMap } from "./pointmap.js";
import { announce, getJson, h, localDate, timeZone } from "./util.js";

/** A bay's state from a value: true, false, or unknown (null). */
function occupied(result) {
  if (typeof result === "boolean") return result;
  if (result === 0 || result === 1) return result === 1;
  return null;
}

function figures(lot) {
  const states = [...lot.states.values()];
  const taken = states.filter((s) => s === true).length;
  const free = states.filter((s) => s === false).length;
  const known = taken + free;
  return { bays: states.length, occupied: taken, free, unknown: states.length - known,
    occupancy: known ? Math.round((1000 * taken) / known) / 10 : null };
}

function percent(value) {
  return value === null || value === undefined ? "–" : new Intl.NumberFormat(lang(), {
    style: "percent", maximumFractionDigits: 0 }).format(value / 100);
}

/** Full (≥ 95 %), busy (≥ 80 %) or free spaces: a word and a symbol besides the number. */
function level(f) {
  if (f.occupancy === null) return ["unknown", "?"];
  if (f.free === 0 || f.occupancy >= 95) return ["full", "■"];
  if (f.occupancy >= 80) return ["busy", "▲"];
  return ["free", "●"];
}

function lotRow(lot, day) {
  const f = figures(lot);
  const [word, symbol] = level(f);
  const curve = day.get(lot.lot);
  return h("tr", { id: `lot-${lot.lot}`, dataset: { lot: lot.lot, occupancy: f.occupancy ?? "" }, tabindex: "-1" },
    h("th", { scope: "row" }, lot.name),
    h("td", { class: "num" }, number(f.bays)),
    h("td", { class: "num free" }, number(f.free)),
    h("td", { class: "num occupied" }, number(f.occupied)),
    h("td", { class: "num" }, number(f.unknown)),
    h("td", { class: "occupancy" },
      h("span", { class: `lvl lvl-${word}` }, h("span", { "aria-hidden": "true" }, symbol), " ", t(`park.lvl.${word}`)), " ",
      h("strong", { class: "pct" }, percent(f.occupancy)),
      h("span", { class: "bar", "aria-hidden": "true" }, h("span", { style: `width:${f.occupancy ?? 0}%` }))),
    h("td", { class: "num" }, curve?.peak ? `${percent(curve.peak.occupancy)} (${clockTime(curve.peak.time)})` : "–"),
    h("td", { class: "num" }, curve ? percent(curve.mean) : "–"),
    h("td", {}, lot.updated ? h("time", { datetime: lot.updated, title: dateTime(lot.updated) }, ago(lot.updated)) : "–"));
}

function point(lot) {
  const f = figures(lot);
  const [word, symbol] = level(f);
  return { id: lot.lot, lonlat: lot.position, text: `${symbol} ${percent(f.occupancy)}`, cls: `lvl-${word}`,
    label: t("park.marker", { name: lot.name, free: number(f.free), bays: number(f.bays), level: t(`park.lvl.${word}`) }) };
}

export async function parkingPage(main, config) {
  const answer = await getJson("/api/parking/lots");
  // Each bay's state and the time of the reading it comes from: a re-read that answers
  // after a newer live value must not put the older state back.
  const lots = answer.value.map((lot) => ({ ...lot, states: new Map(lot.bayStates.map(([d, s]) => [d, s])),
    stamps: new Map(lot.bayStates.map(([d, , at]) => [d, at])) }));
  // (Times are compared as instants: their texts have 0, 3 or 6 fractional digits.)
  const newer = (lot, d, at) => !lot.stamps.get(d) || (at && Date.parse(at) >= Date.parse(lot.stamps.get(d)));
  const lotOf = new Map();
  for (const lot of lots) for (const d of lot.states.keys()) lotOf.set(d, lot);
  let day = new Map();
  const tbody = h("tbody", {});
  const total = h("p", { id: "parking-total", class: "lead", "aria-live": "polite" });
  const box = mapBox("parking-map", t("park.map"));
  const dateInput = h("input", { id: "parking-date", type: "date", value: localDate(), max: localDate() });
  const chartBox = h("div", { id: "parking-curve" });
  let chart = null;

  function render() {
    tbody.replaceChildren(...lots.map((lot) => lotRow(lot, day)));
    const sums = lots.map(figures).reduce((a, f) => ({ bays: a.bays + f.bays, free: a.free + f.free }), { bays: 0, free: 0 });
    total.textContent = t("park.total", { lots: number(lots.length), bays: number(sums.bays), free: number(sums.free) });
  }

  async function loadDay() {
    const date = dateInput.value || localDate();
    const curve = await getJson(`/api/parking/day?date=${date}&tz=${encodeURIComponent(timeZone())}&step=900`);
    day = new Map(curve.value.map((c) => [c.lot, c]));
    if (chart) chart.destroy();
    const peaks = curve.value.filter((c) => c.peak).map((c) => `${c.name} ${percent(c.peak.occupancy)}`);
    chart = dayChart({
      id: "chart-parking", title: t("park.chartTitle", { date: new Intl.DateTimeFormat(lang(), { dateStyle: "full" }).format(new Date(`${date}T12:00:00`)) }),
      from: curve.from, to: curve.to, yRange: [0, 100], format: (v) => percent(v),
      summary: peaks.length ? t("park.chartSummary", { peaks: peaks.join(", ") }) : t("chart.empty"),
      series: curve.value.map((c) => ({ label: c.name, points: c.values.map((v) => [v[0], v[3]]) })),
    });
    chartBox.replaceChildren(chart.element);
    chart.draw();
    render();
  }

  render();
  main.replaceChildren(
    h("h1", {}, t("park.title")),
    ...(lots.length ? [total, box,
      h("div", { class: "table-wrap" }, h("table", { id: "lots" },
        h("caption", {}, t("park.caption")),
        h("thead", {}, h("tr", {}, ["lot", "bays", "free", "occupied", "unknown", "occupancy", "peak", "mean", "updated"]
          .map((key) => h("th", { scope: "col" }, t(`park.${key}`))))),
        tbody)),
    h("section", { "aria-labelledby": "curve-heading" },
      h("h2", { id: "curve-heading" }, t("park.curve")),
      h("form", { class: "inline", onsubmit: (event) => { event.preventDefault(); loadDay(); } },
        h("label", { for: "parking-date" }, t("park.date")), " ", dateInput, " ",
        h("button", { type: "submit" }, t("park.show"))),
      chartBox)] : [h("p", {}, t("park.none"))]));
  if (!lots.length) return null;
  await loadDay();
  const map = await pointMap(box, config, lots.map(point), (id) => {
    const row = document.getElementById(`lot-${id}`);
    row?.focus();
    row?.scrollIntoView({ block: "center" });
  });

  let dirty = new Set();
  const timer = setInterval(() => {
    if (!dirty.size) return;
    for (const lot of dirty) map.update(point(lot));
    dirty = new Set();
    render();
  }, 1000);
  const off = [
    live.on("values", (values) => {
      for (const [datastream, time, result] of values) {
        const lot = lotOf.get(datastream);
        if (!lot) continue;
        const before = level(figures(lot))[0];
        if (!newer(lot, datastream, time)) continue;
        lot.states.set(datastream, occupied(result));
        lot.stamps.set(datastream, time);
        if (!lot.updated || time > lot.updated) lot.updated = time;
        dirty.add(lot);
        if (level(figures(lot))[0] === "full" && before !== "full") announce(t("park.nowFull", { name: lot.name }));
      }
    }),
    live.on("hello", async () => {
      const fresh = await getJson("/api/parking/lots").catch(() => null);
      if (!fresh) return;
      for (const item of fresh.value) {
        const lot = lots.find((l) => l.lot === item.lot);
        if (!lot) continue;
        for (const [d, s, at] of item.bayStates) {
          if (!newer(lot, d, at)) continue; // a live value came after this read
          lot.states.set(d, s);
          lot.stamps.set(d, at);
        }
        if (!lot.updated || (item.updated && Date.parse(item.updated) > Date.parse(lot.updated))) lot.updated = item.updated;
        dirty.add(lot);
      }
    }),
  ];
  return () => { off.forEach((f) => f()); clearInterval(timer); chart?.destroy(); map.remove(); };
}
