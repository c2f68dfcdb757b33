// A small map of where a Thing has been (for the Thing page): its track of the last day
// from /api/things/{id}/track (position Datastreams, else HistoricalLocations), else the
// positions of its location history; a line from the first to the latest position.
import { dateTime, number, t } from "./i18n.js";
import { getJson, h } from "./util.js";
import { fitTo, symbolIcon, townMap } from "./townmap.js";

/** The track for Thing ``id``, or the given history ([{lat, lon, time}], newest first); null when there is nothing to draw. */
export async function trackMap(id, history = []) {
  const track = await getJson(`/api/things/${id}/track`).catch(() => ({ points: [] }));
  const points = track.points.length ? track.points.map(([lon, lat, time]) => ({ lat, lon, time }))
    : history.slice().reverse();
  if (!points.length) return null;
  const first = points[0];
  const last = points.at(-1);
  const summary = t("thing.trackSummary", { n: number(points.length), from: dateTime(first.time), to: dateTime(last.time) });
  const box = h("div", { id: "track-map", class: "track-map", role: "region", "aria-label": t("thing.trackMap") });
  const element = h("div", { class: "track" }, h("p", { id: "track-summary" }, summary), box);
  return {
    element,
    async draw() {
      const { map } = await townMap(box, { layers: ["waters", "streets"] });
      const line = points.map((p) => [p.lat, p.lon]);
      if (line.length > 1) L.polyline(line, { color: "#0b5cad", weight: 4, opacity: 0.85 }).addTo(map);
      const mark = (p, kind, symbol, words) => L.marker([p.lat, p.lon], { keyboard: false, title: words,
        icon: symbolIcon(kind, symbol, words, 20) }).addTo(map);
      if (line.length > 1) mark(first, "track-start", "1", `${t("thing.start")}: ${dateTime(first.time)}`);
      mark(last, "track-end", "●", `${t("thing.end")}: ${dateTime(last.time)}`);
      fitTo(map, line);
      return () => map.remove();
    },
  };
}
