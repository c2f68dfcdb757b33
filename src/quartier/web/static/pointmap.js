// A small map of a use case's places (stations, lots) on the town's base map: each
// marker shows a short text (a symbol, a percentage) and carries a name for screen
// readers; Enter or a click activates it.
import { BASE_STYLES } from "./map.js";
import { getJson, h } from "./util.js";

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function icon(point) {
  return L.divIcon({
    className: "place-marker", iconSize: null,
    html: `<span class="place ${escapeHtml(point.cls || "")}" aria-hidden="true">${escapeHtml(point.text)}</span>`
      + `<span class="sr-only">${escapeHtml(point.label)}</span>`,
  });
}

/** ``points``: [{id, lonlat: [lon, lat], text, label, cls}]; ``onActivate(id)``. */
export async function pointMap(box, config, points, onActivate) {
  const basemap = config.tiles ? { layers: {} } : await getJson("/api/basemap").catch(() => ({ layers: {} }));
  const map = L.map(box, { maxZoom: 19, minZoom: 3, zoomSnap: 0.25 });
  if (config.tiles) L.tileLayer(config.tiles, { attribution: config.attribution || "", maxZoom: 19 }).addTo(map);
  for (const name of ["districts", "waters", "streets"]) {
    const layer = basemap.layers?.[name];
    if (layer) L.geoJSON(layer, { style: BASE_STYLES[name], interactive: false }).addTo(map);
  }
  const markers = new Map();
  for (const point of points.filter((p) => p.lonlat)) {
    const marker = L.marker([point.lonlat[1], point.lonlat[0]], { icon: icon(point), keyboard: true }).addTo(map);
    marker.on("click", () => onActivate(point.id));
    marker.on("keypress", (event) => {
      if (event.originalEvent.key === "Enter" || event.originalEvent.key === " ") {
        event.originalEvent.preventDefault();
        onActivate(point.id);
      }
    });
    markers.set(point.id, marker);
  }
  const bounds = L.latLngBounds([...markers.values()].map((m) => m.getLatLng()));
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 });
  else map.setView([51.0, 10.0], 6);
  return {
    update(point) { markers.get(point.id)?.setIcon(icon(point)); },
    remove() { map.remove(); },
  };
}

/** The map's box: a region with a name. */
export function mapBox(id, label) {
  return h("div", { id, class: "map small-map", role: "region", "aria-label": label });
}
