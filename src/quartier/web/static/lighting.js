// The lighting view: every street lamp on the map by status (on, dimmed, off, failed, no
// report), the circuits of each cabinet with their lamps counted by status, the lamps
// that need attention, switching by hand (lighting-commands.js), the schedules
// (lighting-schedules.js) and the energy of each circuit (energy.js).
import { ago, dateTime, number, quantity, t } from "./i18n.js";
import * as live from "./live.js";
import { getJson, h } from "./util.js";
import { fitTo, markerLink, symbolIcon, townMap } from "./townmap.js";
import { energySection } from "./energy.js";
import { commandsSection } from "./lighting-commands.js";
import { schedulesSection } from "./lighting-schedules.js";
import { targetChoices } from "./lighting-targets.js";

export const LAMP_STATUSES = ["on", "dimmed", "off", "failed", "unknown"];
export const LAMP_SYMBOLS = { on: "●", dimmed: "◐", off: "○", failed: "✕", unknown: "?" };
const RELOAD_MS = 5000; // new lamp values are gathered this long before the view is read again

function statusBadge(status) {
  return h("span", { class: "lamp-status" }, h("span", { class: `uc lamp-${status}`, "aria-hidden": "true" }, LAMP_SYMBOLS[status]),
    " ", t(`lamp.${status}`));
}

function circuitName(c) {
  return c.cabinet ? `${c.cabinet} · ${t("lighting.circuit")} ${c.circuit ?? "–"}` : t("lighting.noCabinet");
}

function when(time) {
  return time ? h("time", { datetime: time, title: dateTime(time) }, ago(time)) : "–";
}

function circuitsTable(circuits) {
  const head = h("tr", {},
    h("th", { scope: "col" }, t("lighting.cabinet")), h("th", { scope: "col" }, t("lighting.circuit")),
    h("th", { scope: "col" }, t("lighting.circuitState")), h("th", { scope: "col", class: "num" }, t("lighting.lamps")),
    LAMP_STATUSES.map((s) => h("th", { scope: "col", class: "num" }, statusBadge(s))),
    h("th", { scope: "col", class: "num" }, t("lighting.voltage")), h("th", { scope: "col", class: "num" }, t("lighting.load")));
  const rows = circuits.map((c) => h("tr", { dataset: { cabinet: c.cabinet ?? "", circuit: c.circuit ?? "" } },
    h("th", { scope: "row" }, c.cabinetThing ? h("a", { href: `#/things/${c.cabinetThing}` }, c.cabinetName || c.cabinet)
      : (c.cabinet || t("lighting.noCabinet"))),
    h("td", {}, c.circuit ?? "–"),
    h("td", {}, t(c.lit ? "lamp.on" : "lamp.off")),
    h("td", { class: "num" }, number(c.lamps)),
    LAMP_STATUSES.map((s) => h("td", { class: `num${s === "failed" && c.counts[s] ? " warn" : ""}`, dataset: { status: s } }, number(c.counts[s]))),
    h("td", { class: "num" }, quantity(c.voltage, { symbol: "V" })),
    h("td", { class: "num" }, quantity(c.load, { symbol: "kW" }))));
  return h("div", { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": "circuits-caption" },
    h("table", { id: "circuits-table" }, h("caption", { id: "circuits-caption" }, t("lighting.circuitsCaption")),
      h("thead", {}, head), h("tbody", {}, rows)));
}

function attentionTable(lamps) {
  const needing = lamps.filter((l) => l.status === "failed" || l.status === "unknown");
  if (!needing.length) return h("p", {}, t("lighting.allGood"));
  needing.sort((a, b) => (a.status === b.status ? a.name.localeCompare(b.name) : a.status === "failed" ? -1 : 1));
  return h("div", { class: "table-wrap" }, h("table", { id: "attention-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("lighting.lamp")), h("th", { scope: "col" }, t("lighting.status")),
      h("th", { scope: "col" }, t("lighting.circuit")), h("th", { scope: "col" }, t("lighting.street")),
      h("th", { scope: "col" }, t("lighting.lastReport")), h("th", { scope: "col" }, t("wo.heading")))),
    h("tbody", {}, needing.map((l) => h("tr", { dataset: { thing: l.id, status: l.status } },
      h("th", { scope: "row" }, h("a", { href: `#/things/${l.id}` }, l.name)), h("td", {}, statusBadge(l.status)),
      h("td", {}, circuitName(l)), h("td", {}, l.street || "–"), h("td", {}, when(l.time)),
      h("td", {}, h("a", { href: `#/workorders?thing=${l.id}`, "aria-label": `${t("wo.new")}: ${l.name}` }, t("wo.new"))))))));
}

export async function lightingPage(main) {
  let [data, groups] = await Promise.all([getJson("/api/lighting/lamps"),
    getJson("/api/lighting/groups").catch(() => ({ value: [] }))]);
  const choices = targetChoices(data, groups.value);
  const summary = h("p", { id: "lighting-summary" });
  const legend = h("ul", { class: "legend", id: "lamp-legend", "aria-label": t("lighting.legend") });
  const mapBox = h("div", { id: "lighting-map", class: "map uc-map", role: "region", "aria-label": t("lighting.map") });
  const circuitsBox = h("div", { id: "lighting-circuits" });
  const attentionBox = h("div", { id: "lighting-attention" });
  const energy = energySection();
  const commands = commandsSection(data, choices);
  const schedules = schedulesSection(data, choices);
  main.replaceChildren(
    h("h1", {}, t("lighting.title")), summary,
    h("div", { class: "map-column" }, mapBox, legend),
    h("section", { "aria-labelledby": "circuits-heading" }, h("h2", { id: "circuits-heading" }, t("lighting.circuits")), circuitsBox),
    h("section", { "aria-labelledby": "attention-heading" }, h("h2", { id: "attention-heading" }, t("lighting.attention")), attentionBox),
    commands.element, schedules.element, energy.element);
  if (!data.lamps.length) {
    summary.textContent = t("lighting.none");
  }
  const { map, base } = await townMap(mapBox);
  const layer = L.layerGroup().addTo(map);
  const markers = new Map();

  function render() {
    const counts = Object.fromEntries(LAMP_STATUSES.map((s) => [s, 0]));
    for (const lamp of data.lamps) {
      counts[lamp.status] += 1;
      if (!lamp.lonlat) continue;
      const words = `${lamp.name}: ${t(`lamp.${lamp.status}`)}`;
      let marker = markers.get(lamp.id);
      if (!marker) {
        marker = markerLink(L.marker([lamp.lonlat[1], lamp.lonlat[0]], { keyboard: true, title: words }), `#/things/${lamp.id}`);
        marker.addTo(layer);
        markers.set(lamp.id, marker);
      }
      if (marker.status !== lamp.status) {
        marker.status = lamp.status;
        marker.setIcon(symbolIcon(`lamp-${lamp.status}`, LAMP_SYMBOLS[lamp.status], words, lamp.status === "failed" ? 22 : 18));
        if (lamp.status === "failed") marker.setZIndexOffset(1000);
      }
    }
    if (data.lamps.length) {
      summary.textContent = t("lighting.summary", { n: number(data.lamps.length), c: number(data.circuits.length) });
    }
    legend.replaceChildren(...LAMP_STATUSES.map((s) => h("li", { dataset: { status: s } }, statusBadge(s), ` (${number(counts[s])})`)));
    circuitsBox.replaceChildren(circuitsTable(data.circuits));
    attentionBox.replaceChildren(attentionTable(data.lamps));
  }

  render();
  fitTo(map, data.lamps.filter((l) => l.lonlat).map((l) => [l.lonlat[1], l.lonlat[0]]), base);
  energy.load();
  schedules.load().catch((error) => console.error(error));

  // A new value of a lamp reads the view again (the status of a lamp depends on its circuit).
  let watched = new Set(data.lamps.flatMap((l) => Object.values(l.datastreams)));
  let timer = null;
  const off = live.on("values", (values) => {
    if (timer || !values.some(([datastream]) => watched.has(datastream))) return;
    timer = setTimeout(async () => {
      timer = null;
      try {
        data = await getJson("/api/lighting/lamps");
        watched = new Set(data.lamps.flatMap((l) => Object.values(l.datastreams)));
        render();
      } catch (error) { console.error(error); }
    }, RELOAD_MS);
  });
  return () => { off(); clearTimeout(timer); commands.stop(); map.remove(); };
}
