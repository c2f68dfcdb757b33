// What the pages know about Things: their use case, status and main value.
import { all, getJson, SEVERITIES, timeOf } from "./util.js";
import { quantity, t } from "./i18n.js";

export const USE_CASES = {
  lighting: ["streetlight", "cabinet"],
  water: ["gauge", "rain_gauge", "water_works"],
  fleet: ["vehicle"],
  environment: ["air_quality", "traffic_counter"],
  parking: ["parking_bay"],
};
export const LAYERS = [...Object.keys(USE_CASES), "other"];
// ms without a value before a Thing counts as silent (parking bays report only changes)
const STALE_AFTER = 26 * 3600 * 1000;
// The Datastream whose value stands for its Thing on the map, by the field it measures.
const MAIN_FIELDS = ["level", "state", "occupied", "rain", "no2", "turbidity", "speed", "voltage"];

export function useCase(kind) {
  for (const [name, kinds] of Object.entries(USE_CASES)) if (kinds.includes(kind)) return name;
  return "other";
}

export const THINGS_QUERY = "/v1.1/Things?$top=1000&$select=id,name,description,properties"
  + "&$expand=Locations($select=location),Datastreams($select=id,name,unitOfMeasurement,properties;$top=100;"
  + "$expand=Observations($select=result,phenomenonTime;$orderby=phenomenonTime desc;$top=1))";

/** Every Thing with what the map needs: position, kind, layer, Datastreams with latest values. */
export async function loadThings() {
  const things = await all(THINGS_QUERY);
  return things.map((raw) => {
    const point = (raw.Locations || []).map((l) => l.location).find((g) => g && g.type === "Point");
    const kind = raw.properties?.kind || "";
    const datastreams = (raw.Datastreams || []).map((d) => ({
      id: d["@iot.id"], name: d.name, unit: d.unitOfMeasurement, properties: d.properties || {},
      result: d.Observations?.[0]?.result, time: timeOf(d.Observations?.[0]?.phenomenonTime),
    }));
    return {
      id: raw["@iot.id"], name: raw.name, description: raw.description, properties: raw.properties || {},
      kind, layer: useCase(kind), datastreams,
      lonlat: point ? point.coordinates.slice(0, 2) : null,
      search: `${raw.name} ${raw.description || ""} ${kind} ${raw.properties?.district || ""}`.toLowerCase(),
    };
  });
}

const thingNames = new Map(); // thing id -> name, learnt by the pages that list Things by id

/** Learn the names of these Things (one request per hundred not known yet). */
export async function learnThingNames(ids) {
  const missing = [...new Set(ids.filter((id) => id !== null && id !== undefined && !thingNames.has(id)))];
  for (let i = 0; i < missing.length; i += 100) {
    const list = missing.slice(i, i + 100).join(",");
    const page = await getJson(`/v1.1/Things?$select=id,name&$top=100&$filter=${encodeURIComponent(`id in (${list})`)}`).catch(() => ({ value: [] }));
    for (const thing of page.value) thingNames.set(thing["@iot.id"], thing.name);
  }
}

/** A Thing's name once learnt, else ``fallback``. */
export function thingName(id, fallback = "") { return thingNames.get(id) ?? fallback; }

/** The open and acknowledged alerts: alert id -> alert. */
export async function loadOpenAlerts() {
  const page = await getJson("/api/alerts?status=open,acknowledged&limit=1000");
  return new Map(page.value.map((alert) => [alert.id, alert]));
}

/** Keep the open alerts up to date with a changed alert. */
export function noteAlert(open, alert) {
  if (alert.status === "resolved") open.delete(alert.id);
  else open.set(alert.id, alert);
}

/** thing id -> the worst severity of its open or acknowledged alerts. */
export function severities(open) {
  const out = new Map();
  for (const alert of open.values()) {
    if (alert.thingId === null || alert.thingId === undefined) continue;
    const had = out.get(alert.thingId);
    if (!had || SEVERITIES.indexOf(alert.severity) > SEVERITIES.indexOf(had)) out.set(alert.thingId, alert.severity);
  }
  return out;
}

export function latestTime(thing) {
  let latest = null;
  for (const d of thing.datastreams) if (d.time && (!latest || d.time > latest)) latest = d.time;
  return latest;
}

/** ok, stale, nodata, or the worst alert's severity. */
export function statusOf(thing, severities) {
  const severity = severities.get(thing.id);
  if (severity) return severity;
  const latest = latestTime(thing);
  if (!latest) return "nodata";
  return Date.now() - new Date(latest).getTime() > STALE_AFTER ? "stale" : "ok";
}

export const STATUS_ORDER = ["ok", "nodata", "stale", ...SEVERITIES];
export const SYMBOLS = { ok: "✓", stale: "?", nodata: "–", minor: "!", moderate: "!", severe: "!!", extreme: "!!!" };

export function statusText(status) { return t(`status.${status}`); }

export function mainDatastream(thing) {
  for (const field of MAIN_FIELDS) {
    const found = thing.datastreams.find((d) => d.properties.field === field);
    if (found) return found;
  }
  return thing.datastreams[0] || null;
}

export function mainValue(thing) {
  const d = mainDatastream(thing);
  return d && d.result !== undefined ? quantity(d.result, d.unit) : "";
}
