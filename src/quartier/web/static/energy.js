// Energy of each lighting circuit per day or month: a bar chart of all circuits, a table
// per circuit and period, and the same figures as CSV (all from /api/lighting/energy).
import { number, t } from "./i18n.js";
import { BASE, getJson, h } from "./util.js";
import { isoDay, periodLabel, timeZone } from "./periods.js";

function kwh(value) {
  return value === null || value === undefined ? "–" : `${number(value, 1, true)}\u00a0kWh`;
}

function monthsAgo(n) {
  const d = new Date();
  d.setDate(1);
  d.setMonth(d.getMonth() - n);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

function barChart(report) {
  const values = report.total.map((v) => v ?? 0);
  const top = Math.max(...values, 0.001);
  const width = 640;
  const height = 180;
  const step = width / Math.max(1, values.length);
  const label = t("energy.chartLabel", {
    from: periodLabel(report.periods[0].period, "long"), to: periodLabel(report.periods.at(-1).period, "long"),
    max: kwh(Math.max(...values)), sum: kwh(report.sum),
  });
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 22}`);
  svg.setAttribute("class", "energy-bars");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const every = Math.ceil(values.length / 12);
  values.forEach((value, i) => {
    const bar = document.createElementNS(svg.namespaceURI, "rect");
    const barHeight = (value / top) * (height - 4);
    bar.setAttribute("x", String(i * step + step * 0.15));
    bar.setAttribute("width", String(step * 0.7));
    bar.setAttribute("y", String(height - barHeight));
    bar.setAttribute("height", String(barHeight));
    const title = document.createElementNS(svg.namespaceURI, "title");
    title.textContent = `${periodLabel(report.periods[i].period, "long")}: ${kwh(report.total[i])}`;
    bar.append(title);
    svg.append(bar);
    if (i % every === 0) {
      const text = document.createElementNS(svg.namespaceURI, "text");
      text.setAttribute("x", String(i * step + step / 2));
      text.setAttribute("y", String(height + 16));
      text.setAttribute("text-anchor", "middle");
      text.textContent = periodLabel(report.periods[i].period);
      svg.append(text);
    }
  });
  return svg;
}

function energyTable(report) {
  const circuits = report.circuits;
  const name = (c) => (c.cabinet ? `${c.cabinet} / ${c.circuit ?? "–"}` : t("lighting.noCabinet"));
  return h("div", { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": "energy-caption" },
    h("table", { id: "energy-table" },
      h("caption", { id: "energy-caption" }, t("energy.table", { period: t(`energy.per.${report.by}`) })),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t(`energy.period.${report.by}`)),
        circuits.map((c) => h("th", { scope: "col", class: "num", title: c.cabinetName || "" }, name(c))),
        h("th", { scope: "col", class: "num" }, t("energy.all")))),
      h("tbody", {}, report.periods.map((p, i) => h("tr", { dataset: { period: p.period } },
        h("th", { scope: "row" }, periodLabel(p.period, "long")),
        circuits.map((c) => h("td", { class: "num" }, kwh(c.energy[i]))),
        h("td", { class: "num total" }, kwh(report.total[i]))))),
      h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, t("energy.sum")),
        circuits.map((c) => h("td", { class: "num" }, kwh(c.total))), h("td", { class: "num total" }, kwh(report.sum))))));
}

/** The energy section; ``load()`` reads the figures for the chosen range. */
export function energySection() {
  let by = "day";
  const from = h("input", { id: "energy-from", type: "date", value: isoDay(-6), required: true });
  const to = h("input", { id: "energy-to", type: "date", value: isoDay(0), required: true });
  const choice = (value) => {
    const input = h("input", { type: "radio", name: "energy-by", id: `energy-by-${value}`, value, checked: value === by });
    input.addEventListener("change", () => {
      by = value;
      const month = value === "month";
      from.type = month ? "month" : "date";
      to.type = month ? "month" : "date";
      from.value = month ? monthsAgo(11) : isoDay(-6);
      to.value = month ? monthsAgo(0) : isoDay(0);
      load();
    });
    return h("span", { class: "choice" }, input, h("label", { for: `energy-by-${value}` }, t(`energy.per.${value}`)));
  };
  const csv = h("a", { id: "energy-csv", class: "button", download: "" }, t("energy.csv"));
  const status = h("p", { class: "hint", "aria-live": "polite" });
  const output = h("div", { id: "energy-output" });
  const form = h("form", { class: "energy-form" },
    h("fieldset", {}, h("legend", {}, t("energy.by")), choice("day"), choice("month")),
    h("span", { class: "field" }, h("label", { for: "energy-from" }, t("energy.from")), from),
    h("span", { class: "field" }, h("label", { for: "energy-to" }, t("energy.to")), to),
    h("button", { type: "submit", class: "primary" }, t("energy.show")), csv);
  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  const element = h("section", { "aria-labelledby": "energy-heading", id: "lighting-energy" },
    h("h2", { id: "energy-heading" }, t("energy.title")), h("p", { class: "hint" }, t("energy.note")), form, status, output);

  async function load() {
    const params = new URLSearchParams({ by, from: from.value, to: to.value, tz: timeZone() });
    csv.setAttribute("href", `${BASE}/api/lighting/energy?${params}&format=csv`);
    status.textContent = t("loading");
    try {
      const report = await getJson(`/api/lighting/energy?${params}`);
      output.replaceChildren(barChart(report), energyTable(report));
      status.textContent = t("energy.done", { n: number(report.circuits.length), sum: kwh(report.sum) });
    } catch (error) {
      output.replaceChildren();
      status.textContent = t("error", { message: error.message });
    }
  }
  return { element, load };
}
