// The fleet's trips and daily report: per vehicle and day a table of its trips (start,
// end, distance, duration, idle), each one to be drawn on the fleet map, and the day's
// report per vehicle and for the fleet, with its CSV.
import { dateTime, lang, number, quantity, t } from "./i18n.js";
import { BASE, getJson, h } from "./util.js";
import { hoursMinutes, periodLabel, timeZone } from "./periods.js";

const km = (value) => `${number(value, 1, true)}\u00a0km`;
const hours = (value) => hoursMinutes((value || 0) * 3600);

function time(value) {
  return h("time", { datetime: value, title: dateTime(value) },
    new Intl.DateTimeFormat(lang(), { timeStyle: "short" }).format(new Date(value)));
}

function tripsTable(vehicle, trips, showTrip) {
  if (!trips.length) return h("p", { id: "trips-none" }, t("trips.none", { name: vehicle.name }));
  const col = (key, cls = "") => h("th", { scope: "col", class: cls }, t(`trips.${key}`));
  return h("div", { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": "trips-caption" },
    h("table", { id: "trips-table" }, h("caption", { id: "trips-caption" }, t(trips.length === 1 ? "trips.caption.one" : "trips.caption", { name: vehicle.name, n: number(trips.length) })),
      h("thead", {}, h("tr", {}, col("number", "num"), col("start"), col("end"), col("distance", "num"), col("duration", "num"),
        col("driving", "num"), col("idle", "num"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, t("trips.show"))))),
      h("tbody", {}, trips.map((trip, i) => h("tr", { dataset: { start: trip.start } },
        h("td", { class: "num" }, number(i + 1)), h("td", {}, time(trip.start)), h("td", {}, time(trip.end)),
        h("td", { class: "num", dataset: { field: "distance" } }, km(trip.distance)),
        h("td", { class: "num", dataset: { field: "duration" } }, hoursMinutes(trip.duration)),
        h("td", { class: "num" }, hoursMinutes(trip.driving)),
        h("td", { class: "num", dataset: { field: "idle" } }, hoursMinutes(trip.idle)),
        h("td", {}, h("button", { type: "button", class: "show-trip", "aria-pressed": "false",
          "aria-label": t("trips.showOne", { n: number(i + 1), name: vehicle.name }),
          onclick: (event) => {
            for (const other of event.currentTarget.closest("tbody").querySelectorAll("button[aria-pressed]")) other.setAttribute("aria-pressed", "false");
            event.currentTarget.setAttribute("aria-pressed", "true");
            showTrip(vehicle, trip);
          } }, t("trips.show"))))))));
}

/** Trips of one vehicle on ``day``: a select of the vehicles and the table; ``showTrip``
 * draws one on the map. ``choose(id)`` picks a vehicle from outside. */
export function tripsSection(day, vehicles, showTrip) {
  const select = h("select", { id: "trips-vehicle" }, vehicles.map((v) => h("option", { value: v.id }, v.name)));
  const box = h("div", { id: "trips-box", "aria-live": "polite" });
  let latest = 0; // only the answer to the newest choice is shown (an older one may come later)
  async function load() {
    const asked = ++latest;
    const vehicle = vehicles.find((v) => String(v.id) === select.value);
    if (!vehicle) { box.replaceChildren(h("p", {}, t("fleet.none"))); return; }
    box.replaceChildren(h("p", {}, t("loading")));
    const params = new URLSearchParams({ date: day, tz: timeZone(), vehicle: String(vehicle.id) });
    try {
      const found = await getJson(`/api/fleet/trips?${params}`);
      if (asked === latest) box.replaceChildren(tripsTable(vehicle, found.vehicles[0]?.trips || [], showTrip));
    } catch (error) {
      if (asked === latest) box.replaceChildren(h("p", { role: "alert" }, t("error", { message: error.message })));
    }
  }
  select.addEventListener("change", load);
  const element = h("section", { "aria-labelledby": "trips-heading", id: "fleet-trips" },
    h("h2", { id: "trips-heading" }, t("trips.title")), h("p", { class: "hint" }, t("trips.note")),
    h("div", { class: "field" }, h("label", { for: "trips-vehicle" }, t("fleet.vehicle")), select), box);
  return { element, load, choose(id) { select.value = String(id); return load(); } };
}

/** The day's report per vehicle and for the fleet, with the CSV link. */
export async function reportSection(day) {
  const params = new URLSearchParams({ date: day, tz: timeZone() });
  const report = await getJson(`/api/fleet/report?${params}`);
  const percent = (value) => quantity(value, { symbol: "%" });
  const energy = (row) => (row.energy_field ? `${percent(row.energy_used_percent)} ${t(`fleet.${row.energy_field}`)}` : "–");
  const cells = (row) => [
    h("td", { class: "num", dataset: { field: "distance" } }, km(row.distance_km)),
    h("td", { class: "num", dataset: { field: "operating" } }, hours(row.operating_hours)),
    h("td", { class: "num" }, hours(row.driving_hours)), h("td", { class: "num" }, hours(row.idle_hours)),
    h("td", { class: "num" }, energy(row)), h("td", { class: "num", dataset: { field: "trips" } }, number(row.trips))];
  const byField = Object.entries(report.energyByField || {}).map(([f, used]) => `${percent(used)} ${t(`fleet.${f}`)}`).join(", ");
  const col = (key) => h("th", { scope: "col", class: "num" }, t(`report.${key}`));
  return h("section", { "aria-labelledby": "report-heading", id: "fleet-report" },
    h("h2", { id: "report-heading" }, t("report.title")), h("p", { class: "hint" }, t("report.note")),
    h("p", {}, h("a", { id: "report-csv", class: "button", download: "", href: `${BASE}/api/fleet/report?${params}&format=csv` }, t("report.csv"))),
    h("div", { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": "report-caption" },
      h("table", { id: "report-table" }, h("caption", { id: "report-caption" }, t("report.caption", { date: periodLabel(report.date, "long") })),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("fleet.vehicle")), col("distance"), col("operating"), col("driving"),
          col("idle"), col("energy"), col("trips"))),
        h("tbody", {}, report.vehicles.map((row) => h("tr", { dataset: { thing: row.vehicle } },
          h("th", { scope: "row" }, h("a", { href: `#/things/${row.vehicle}` }, row.name)), cells(row)))),
        h("tfoot", {}, h("tr", { class: "fleet-total" }, h("th", { scope: "row" }, t("report.fleet")), cells(report.fleet))))),
    byField ? h("p", { class: "hint" }, t("report.byField", { used: byField })) : null);
}
