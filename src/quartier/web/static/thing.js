// A Thing's page: its Datastreams with their latest values, a chart, open alerts and
// where it has been.
import { ago, dateTime, number, quantity, t } from "./i18n.js";
import * as live from "./live.js";
import { chartPanel } from "./chart.js";
import { getJson, h, timeOf } from "./util.js";
import { alertTable } from "./alerts.js";
import { noteAlert } from "./things.js";
import { trackMap } from "./track.js";

export async function thingPage(main, id) {
  let raw;
  try {
    raw = await getJson(`/v1.1/Things(${id})?$expand=Locations,HistoricalLocations($orderby=time desc;$top=20;`
      + "$expand=Locations($select=location)),Datastreams($top=200;$orderby=id;"
      + "$expand=Observations($select=result,phenomenonTime;$orderby=phenomenonTime desc;$top=1))");
  } catch (error) {
    main.replaceChildren(h("h1", {}, t("thing.notfound", { id })), h("p", {}, h("a", { href: "#/" }, t("thing.back"))));
    return null;
  }
  const alerts = await getJson(`/api/alerts?status=open,acknowledged&limit=200`);
  const open = new Map(alerts.value.filter((a) => a.thingId === id).map((a) => [a.id, a]));
  const datastreams = raw.Datastreams.map((d) => ({
    id: d["@iot.id"], name: d.name, unit: d.unitOfMeasurement, properties: d.properties || {},
    result: d.Observations?.[0]?.result, time: timeOf(d.Observations?.[0]?.phenomenonTime),
  }));

  const cells = new Map();
  const rows = datastreams.map((d) => {
    const value = h("td", { class: "num" }, quantity(d.result, d.unit));
    const when = h("td", {}, d.time ? h("time", { datetime: d.time, title: dateTime(d.time) }, ago(d.time)) : "–");
    cells.set(d.id, [value, when]);
    const button = h("button", { type: "button", class: "show-chart", "aria-pressed": "false", dataset: { datastream: d.id },
      "aria-label": `${t("thing.show")}: ${d.name}`, onclick: () => showChart(d) }, t("thing.show"));
    return h("tr", { dataset: { datastream: d.id } }, h("th", { scope: "row" }, d.name), value, when, h("td", {}, button));
  });
  const chartBox = h("div", { id: "chart" });
  const chartHeading = h("h2", { id: "chart-heading" }, t("thing.chart"));
  const alertBox = h("div", { id: "thing-alerts" });
  let chart = null;

  function showChart(d) {
    if (chart) chart.destroy();
    for (const b of main.querySelectorAll("button.show-chart")) b.setAttribute("aria-pressed", String(b.dataset.datastream === String(d.id)));
    chartHeading.textContent = `${t("thing.chart")}: ${d.name}`;
    chart = chartPanel(d);
    chartBox.replaceChildren(chart.element);
    chart.load();
  }

  function showAlerts() {
    const list = [...open.values()];
    alertBox.replaceChildren(list.length ? alertTable(list, { showThing: false, onChange: showAlerts, alerts: open })
      : h("p", {}, t("thing.noalerts")));
  }

  const history = (raw.HistoricalLocations || []).map((hl) => {
    const point = hl.Locations?.[0]?.location;
    const where = point?.type === "Point" ? `${number(point.coordinates[1], 5)}, ${number(point.coordinates[0], 5)}` : "–";
    return h("tr", {}, h("td", {}, dateTime(hl.time)), h("td", {}, where));
  });
  const kind = raw.properties?.kind;
  const trackBox = h("div", { id: "thing-track" });
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/" }, `← ${t("thing.back")}`)),
    h("h1", {}, raw.name),
    h("p", {}, raw.description, kind ? ` · ${t("thing.kind")}: ${kind}` : ""),
    h("section", { "aria-labelledby": "alerts-heading" }, h("h2", { id: "alerts-heading" }, t("thing.alerts")), alertBox),
    h("section", { "aria-labelledby": "ds-heading" },
      h("h2", { id: "ds-heading" }, t("thing.datastreams")),
      h("div", { class: "table-wrap" }, h("table", { class: "datastreams" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("thing.name")), h("th", { scope: "col" }, t("thing.latest")),
          h("th", { scope: "col" }, t("thing.time")), h("th", { scope: "col" }, h("span", { class: "sr-only" }, t("thing.show"))))),
        h("tbody", {}, rows)))),
    h("section", { "aria-labelledby": "chart-heading" }, chartHeading, chartBox),
    h("section", { "aria-labelledby": "history-heading" }, h("h2", { id: "history-heading" }, t("thing.history")),
      trackBox, history.length ? h("table", { class: "history" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("thing.time")),
        h("th", { scope: "col" }, t("thing.position")))), h("tbody", {}, history)) : h("p", {}, t("thing.nohistory"))),
  );
  showAlerts();
  let dropTrack = null;
  const positions = (raw.HistoricalLocations || []).map((hl) => [hl.time, hl.Locations?.[0]?.location])
    .filter(([, g]) => g?.type === "Point").map(([time, g]) => ({ time, lon: g.coordinates[0], lat: g.coordinates[1] }));
  trackMap(id, positions).then(async (track) => {
    if (!track || !trackBox.isConnected) return;
    trackBox.replaceChildren(track.element);
    dropTrack = await track.draw();
    if (!trackBox.isConnected) dropTrack();
  }).catch((error) => console.error(error));
  const numeric = datastreams.find((d) => typeof d.result === "number") || datastreams[0];
  if (numeric) showChart(numeric);

  const off = [
    live.on("values", (values) => {
      for (const [datastream, time, result] of values) {
        const d = datastreams.find((x) => x.id === datastream);
        if (!d || (d.time && time < d.time)) continue;
        d.time = time; d.result = result;
        const [value, when] = cells.get(d.id);
        value.textContent = quantity(result, d.unit);
        when.replaceChildren(h("time", { datetime: time, title: dateTime(time) }, ago(time)));
      }
    }),
    live.on("alert", (event) => {
      if (event.alert.thingId !== id) return;
      noteAlert(open, event.alert);
      showAlerts();
    }),
  ];
  return () => { off.forEach((f) => f()); if (chart) chart.destroy(); if (dropTrack) dropTrack(); };
}
