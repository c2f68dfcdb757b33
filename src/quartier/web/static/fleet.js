// The fleet view: every vehicle where it is now (moving live with the SSE stream), its
// tracks of the chosen day, and per vehicle the distance, operating, driving and idle
// time of that day (from /api/fleet/day); its trips, each drawn on the map when chosen,
// and the day's report (fleet-trips.js).
import { ago, dateTime, lang, number, quantity, t } from "./i18n.js";
import * as live from "./live.js";
import { announce, getJson, h } from "./util.js";
import { escapeHtml, fitTo, markerLink, symbolIcon, townMap } from "./townmap.js";
import { reportSection, tripsSection } from "./fleet-trips.js";
import { hoursMinutes, isoDay, timeZone } from "./periods.js";

const STATE_SYMBOLS = { driving: "▶", stopped: "‖", depot: "⌂", unknown: "?" };
const TRACK_COLOURS = ["#0b5cad", "#a3440a", "#6e1a52", "#1a7f37", "#8a6d00", "#b42318", "#3b4f9c", "#5a6570"];

const HOLD_MS = 3600 * 1000; // a reported state counts this long (as on the server)

function stateOf(vehicle) {
  const state = String(vehicle.state ?? "").toLowerCase();
  const fresh = vehicle.time && Date.now() - new Date(vehicle.time).getTime() <= HOLD_MS;
  return fresh && STATE_SYMBOLS[state] ? state : "unknown";
}

function stateText(state) { return t(`vstate.${state}`); }

function stateBadge(state) {
  return h("span", { class: "vehicle-state" }, h("span", { class: `uc veh-${state}`, "aria-hidden": "true" }, STATE_SYMBOLS[state]),
    " ", stateText(state));
}

export async function fleetPage(main, date = null) {
  const day = date || isoDay(0);
  const today = day === isoDay(0);
  const data = await getJson(`/api/fleet/day?date=${day}&tz=${encodeURIComponent(timeZone())}`);
  const vehicles = data.vehicles;
  const byId = new Map(vehicles.map((v) => [v.id, v]));
  const byDatastream = new Map();
  for (const v of vehicles) for (const [field, id] of Object.entries(v.datastreams)) byDatastream.set(id, [v, field]);

  const picker = h("input", { id: "fleet-date", type: "date", value: day, max: isoDay(0), required: true });
  const form = h("form", { class: "energy-form" }, h("span", { class: "field" }, h("label", { for: "fleet-date" }, t("fleet.date")), picker),
    h("button", { type: "submit", class: "primary" }, t("fleet.show")));
  form.addEventListener("submit", (event) => { event.preventDefault(); if (picker.value) location.hash = `#/fleet?date=${picker.value}`; });
  const km = vehicles.reduce((sum, v) => sum + v.distance, 0);
  const operating = vehicles.reduce((sum, v) => sum + v.operating, 0);
  const summary = h("p", { id: "fleet-summary" }, vehicles.length
    ? t("fleet.summary", { n: number(vehicles.length), km: number(km, 1), time: hoursMinutes(operating), date: dateOnly(data.date) })
    : t("fleet.none"));
  const mapBox = h("div", { id: "fleet-map", class: "map uc-map", role: "region", "aria-label": t("fleet.map") });
  const legend = h("ul", { class: "legend", "aria-label": t("fleet.legend") },
    Object.keys(STATE_SYMBOLS).map((s) => h("li", {}, stateBadge(s))),
    h("li", {}, h("span", { class: "track-key", "aria-hidden": "true" }), " ", t("fleet.trackKey")));
  const cells = new Map();
  const rows = vehicles.map((v, i) => {
    const stateCell = h("td", {}, stateBadge(stateOf(v)));
    const timeCell = h("td", {}, v.time ? h("time", { datetime: v.time, title: dateTime(v.time) }, ago(v.time)) : "–");
    const levelCell = h("td", { class: "num" }, v.level ? `${quantity(v.level.value, { symbol: "%" })} ${t(`fleet.${v.level.field}`)}` : "–");
    cells.set(v.id, { stateCell, timeCell, levelCell });
    const show = h("button", { type: "button", class: "show-track", "aria-label": `${t("fleet.showTrack")}: ${v.name}`,
      disabled: !v.track.length && !v.lonlat, onclick: () => focusVehicle(v) }, t("fleet.showTrack"));
    return h("tr", { dataset: { thing: v.id } },
      h("th", { scope: "row" }, h("span", { class: "track-swatch", style: `background:${TRACK_COLOURS[i % TRACK_COLOURS.length]}`, "aria-hidden": "true" }),
        " ", h("a", { href: `#/things/${v.id}` }, v.name)),
      h("td", {}, v.label || v.vehicle || "–"), stateCell, timeCell, levelCell,
      h("td", { class: "num", dataset: { field: "distance" } }, `${number(v.distance, 1)}\u00a0km`),
      h("td", { class: "num", dataset: { field: "operating" } }, hoursMinutes(v.operating)),
      h("td", { class: "num" }, hoursMinutes(v.driving)),
      h("td", { class: "num", dataset: { field: "idle" } }, hoursMinutes(v.idle)),
      h("td", { class: "num" }, number(v.track.length)),
      h("td", {}, show));
  });
  const col = (key, cls = "") => h("th", { scope: "col", class: cls }, t(key));
  const table = h("div", { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": "fleet-caption" },
    h("table", { id: "fleet-table" }, h("caption", { id: "fleet-caption" }, t("fleet.caption", { date: dateOnly(data.date) })),
      h("thead", {}, h("tr", {}, col("fleet.vehicle"), col("fleet.type"), col("fleet.state"), col("fleet.lastReport"),
        col("fleet.level", "num"), col("fleet.distance", "num"), col("fleet.operating", "num"), col("fleet.driving", "num"),
        col("fleet.idle", "num"), col("fleet.points", "num"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, t("fleet.showTrack"))))),
      h("tbody", {}, rows)));
  const trips = tripsSection(day, vehicles, (v, trip) => showTrip(v, trip));
  const report = await reportSection(day);
  main.replaceChildren(h("h1", {}, t("fleet.title")), form, summary,
    h("div", { class: "map-column" }, mapBox, legend),
    h("section", { "aria-labelledby": "fleet-heading" }, h("h2", { id: "fleet-heading" }, t("fleet.vehicles")),
      h("p", { class: "hint" }, t("fleet.note")), vehicles.length ? table : h("p", {}, t("fleet.none"))),
    trips.element, report);

  // Listen before the map is drawn, so that nothing said meanwhile is missed.
  const lines = new Map();
  const markers = new Map();
  const setState = (v) => {
    const state = stateOf(v);
    const { stateCell, timeCell, levelCell } = cells.get(v.id);
    stateCell.replaceChildren(stateBadge(state));
    timeCell.replaceChildren(v.time ? h("time", { datetime: v.time, title: dateTime(v.time) }, ago(v.time)) : "–");
    if (v.level) levelCell.textContent = `${quantity(v.level.value, { symbol: "%" })} ${t(`fleet.${v.level.field}`)}`;
    markers.get(v.id)?.setIcon(symbolIcon(`veh-${state}`, STATE_SYMBOLS[state], `${v.name}: ${stateText(state)}`, 24));
  };
  const off = !today ? [] : [
    live.on("moved", (moves) => {
      for (const [id, [lon, lat], time] of moves) {
        const v = byId.get(id);
        if (!v) continue;
        v.lonlat = [lon, lat];
        markers.get(id)?.setLatLng([lat, lon]);
        if (!v.datastreams.latitude) lines.get(id)?.addLatLng([lat, lon]);
        if (time) v.time = time;
      }
    }),
    live.on("values", (values) => {
      const positions = new Map();
      for (const [datastream, time, result] of values) {
        const found = byDatastream.get(datastream);
        if (!found) continue;
        const [v, field] = found;
        if (field === "state") { v.state = result; v.time = time; setState(v); }
        else if (v.level && field === v.level.field) { v.level.value = result; setState(v); }
        else if (field === "latitude" || field === "longitude") {
          const p = positions.get(v.id) || { v };
          p[field] = result;
          positions.set(v.id, p);
        }
      }
      for (const { v, latitude, longitude } of positions.values()) {
        if (typeof latitude !== "number" || typeof longitude !== "number") continue;
        markers.get(v.id)?.setLatLng([latitude, longitude]);
        lines.get(v.id)?.addLatLng([latitude, longitude]);
      }
    }),
  ];
  const { map, base } = await townMap(mapBox);
  vehicles.forEach((v, i) => {
    const colour = TRACK_COLOURS[i % TRACK_COLOURS.length];
    const line = L.polyline(v.track.map(([lon, lat]) => [lat, lon]), { color: colour, weight: 2, opacity: 0.7 });
    line.bindTooltip(escapeHtml(v.name), { sticky: true });
    line.addTo(map);
    lines.set(v.id, line);
    const last = v.track.at(-1);
    const where = today && v.lonlat ? v.lonlat : last ? last.slice(0, 2) : v.lonlat;
    if (!where) return;
    const state = today ? stateOf(v) : "unknown";
    const marker = markerLink(L.marker([where[1], where[0]], { keyboard: true, title: `${v.name}: ${stateText(state)}`,
      icon: symbolIcon(`veh-${state}`, STATE_SYMBOLS[state], `${v.name}: ${stateText(state)}`, 24) }), `#/things/${v.id}`);
    marker.addTo(map);
    markers.set(v.id, marker);
  });
  const everything = [...vehicles.flatMap((v) => v.track.map(([lon, lat]) => [lat, lon])),
    ...[...markers.values()].map((m) => m.getLatLng())];
  fitTo(map, everything, base);

  trips.load();
  const tripLayer = L.layerGroup().addTo(map);

  /** One trip drawn over the day's tracks: its positions from start to end, and both ends. */
  async function showTrip(v, trip) {
    const end = new Date(new Date(trip.end).getTime() + 1000).toISOString(); // "to" is not included
    const params = new URLSearchParams({ from: trip.start, to: end });
    let track;
    try { track = await getJson(`/api/things/${v.id}/track?${params}`); }
    catch (error) { announce(t("error", { message: error.message })); return; }
    const points = track.points.map(([lon, lat]) => [lat, lon]);
    if (!points.length && trip.startPlace) points.push([trip.startPlace[1], trip.startPlace[0]]);
    tripLayer.clearLayers();
    for (const line of lines.values()) line.setStyle({ weight: 2 });
    const words = t("trips.onMap", { name: v.name, from: dateTime(trip.start), to: dateTime(trip.end), km: number(trip.distance, 1) });
    L.polyline(points, { color: "#1b1f24", weight: 6, opacity: 0.85, className: "trip-line" })
      .bindTooltip(escapeHtml(words), { sticky: true }).addTo(tripLayer);
    const ends = [["track-start", "A", points[0]], ["track-end", "B", points.at(-1)]];
    for (const [kind, symbol, at] of ends) {
      if (at) L.marker(at, { keyboard: false, icon: symbolIcon(kind, symbol, words, 20) }).addTo(tripLayer);
    }
    mapBox.setAttribute("aria-label", `${t("fleet.map")}. ${words}`);
    fitTo(map, points);
    mapBox.scrollIntoView({ block: "nearest" });
  }

  function focusVehicle(v) {
    trips.choose(v.id);
    const points = [...v.track.map(([lon, lat]) => [lat, lon]), ...(markers.get(v.id) ? [markers.get(v.id).getLatLng()] : [])];
    fitTo(map, points);
    lines.get(v.id)?.bringToFront().setStyle({ weight: 6 });
    for (const [id, line] of lines) if (id !== v.id) line.setStyle({ weight: 2 });
    mapBox.scrollIntoView({ block: "nearest" });
  }

  return () => { off.forEach((f) => f()); map.remove(); };
}

function dateOnly(label) {
  const [y, m, d] = label.split("-").map(Number);
  return new Intl.DateTimeFormat(lang(), { dateStyle: "full" }).format(new Date(y, m - 1, d));
}
