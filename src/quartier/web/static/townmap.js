// A Leaflet map of the town for the use-case pages: the tile server when one is set,
// else the town's own base map (districts, waters, streets from /api/basemap).
import { getJson } from "./util.js";

const STYLES = {
  districts: { color: "#6b5b95", weight: 1.2, fillColor: "#e4def0", fillOpacity: 0.3, dashArray: "4 3" },
  waters: { color: "#1f6fb2", weight: 3.5, opacity: 0.7 },
  streets: { color: "#9a9a9a", weight: 2.5, opacity: 0.9 },
};
let settings = null;

function dashboardSettings() {
  settings ||= getJson("/api/dashboard").catch(() => ({ tiles: "", attribution: "" }));
  return settings;
}

/** A map in ``box``; resolves to { map, base } where base is the base map's bounds (or null). */
export async function townMap(box, { layers = ["districts", "waters", "streets"] } = {}) {
  const config = await dashboardSettings();
  // A view from the start: paths added to a map without one fail in Leaflet once it gets one.
  const map = L.map(box, { maxZoom: 19, minZoom: 3, zoomSnap: 0.25 }).setView([51.0, 10.0], 6);
  let base = null;
  if (config.tiles) {
    L.tileLayer(config.tiles, { attribution: config.attribution || "", maxZoom: 19 }).addTo(map);
  } else {
    const basemap = await getJson("/api/basemap").catch(() => ({ layers: {} }));
    for (const name of layers) {
      const layer = basemap.layers?.[name];
      if (!layer) continue;
      const drawn = L.geoJSON(layer, { style: STYLES[name], interactive: false }).addTo(map);
      base = base ? base.extend(drawn.getBounds()) : L.latLngBounds(drawn.getBounds().getSouthWest(), drawn.getBounds().getNorthEast());
    }
  }
  return { map, base };
}

/** Fit the map to ``points`` ([lat, lon] pairs), else to ``fallback`` bounds, else Germany. */
export function fitTo(map, points, fallback = null) {
  const bounds = L.latLngBounds(points);
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 });
  else if (fallback && fallback.isValid()) map.fitBounds(fallback, { padding: [20, 20] });
  else map.setView([51.0, 10.0], 6);
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A status marker: a symbol in a shape (aria-hidden) and its words for screen readers. */
export function symbolIcon(kind, symbol, words, size = 22) {
  return L.divIcon({
    className: "uc-marker", iconSize: [size, size],
    html: `<span class="uc ${escapeHtml(kind)}" aria-hidden="true">${escapeHtml(symbol)}</span>`
      + `<span class="sr-only">${escapeHtml(words)}</span>`,
  });
}

/** A marker that opens ``hash`` when clicked, or by Enter or Space when it has the focus
 * (make it with ``keyboard: true``, and its icon names it). */
export function markerLink(marker, hash) {
  marker.on("click", () => { location.hash = hash; });
  marker.on("keypress", (event) => {
    if (event.originalEvent.key === "Enter" || event.originalEvent.key === " ") {
      event.originalEvent.preventDefault();
      location.hash = hash;
    }
  });
  return marker;
}
