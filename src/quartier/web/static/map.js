// The overview map: every Thing by status, a layer per use case, a search, live updates.
import { number, t } from "./i18n.js";
import * as live from "./live.js";
import { getJson, h } from "./util.js";
import {
  LAYERS, loadOpenAlerts, loadThings, mainValue, noteAlert, severities, STATUS_ORDER, statusOf,
  statusText, SYMBOLS,
} from "./things.js";
import { markerLink } from "./townmap.js";

const LIST_MAX = 100; // Things listed beside the map; the search narrows them
export const BASE_STYLES = {
  districts: { color: "#6b5b95", weight: 1.5, fillColor: "#d9d2e9", fillOpacity: 0.35, dashArray: "4 3" },
  waters: { color: "#1f6fb2", weight: 4, opacity: 0.8 },
  streets: { color: "#8c8c8c", weight: 2.5, opacity: 0.9 },
};
const CLUSTER_MARK = { ok: "", nodata: "", stale: "?" }; // besides the colour
const hidden = new Set(JSON.parse(localStorage.getItem("quartier.hiddenLayers") || "[]"));

function markerIcon(thing, status) {
  return L.divIcon({
    className: "thing-marker",
    iconSize: [24, 24],
    html: `<span class="mk st-${status}" aria-hidden="true"><span>${SYMBOLS[status]}</span></span>`
      + `<span class="sr-only">${escapeHtml(thing.name)}: ${escapeHtml(statusText(status))}</span>`,
  });
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function mapPage(main, config) {
  const [things, open, basemap] = await Promise.all([
    loadThings(), loadOpenAlerts(), config.tiles ? Promise.resolve({ layers: {} }) : getJson("/api/basemap"),
  ]);
  let worst = severities(open);
  const byId = new Map(things.map((thing) => [thing.id, thing]));
  const byDatastream = new Map();
  for (const thing of things) for (const d of thing.datastreams) byDatastream.set(d.id, [thing, d]);

  const search = h("input", { id: "thing-search", type: "search", autocomplete: "off" });
  const count = h("p", { id: "thing-count", "aria-live": "polite" });
  const list = h("ul", { id: "thing-list", class: "thing-list" });
  const layerBoxes = LAYERS.map((layer) => {
    const n = things.filter((thing) => thing.layer === layer).length;
    const box = h("input", { type: "checkbox", id: `layer-${layer}`, checked: !hidden.has(layer) });
    box.addEventListener("change", () => {
      if (box.checked) hidden.delete(layer); else hidden.add(layer);
      localStorage.setItem("quartier.hiddenLayers", JSON.stringify([...hidden]));
      refresh();
    });
    return n ? h("li", {}, box, h("label", { for: `layer-${layer}` }, `${t(`layer.${layer}`)} (${number(n)})`)) : null;
  });
  const mapBox = h("div", { id: "map", class: "map", role: "region", "aria-label": t("map.region") });
  const legend = h("ul", { class: "legend", "aria-label": t("status.legend") },
    STATUS_ORDER.map((status) => h("li", {}, h("span", { class: `mk st-${status}`, "aria-hidden": "true" }, h("span", {}, SYMBOLS[status])),
      " ", statusText(status))));
  main.replaceChildren(
    h("h1", {}, t("map.title")),
    h("div", { class: "map-layout" },
      h("section", { class: "side", "aria-labelledby": "things-heading" },
        h("h2", { id: "things-heading", class: "sr-only" }, t("map.things")),
        h("label", { for: "thing-search" }, t("map.search")), search,
        h("fieldset", {}, h("legend", {}, t("map.layers")), h("ul", { class: "layers" }, layerBoxes)),
        count, list),
      h("div", { class: "map-column" }, mapBox, legend)),
  );

  const map = L.map(mapBox, { zoomControl: true, maxZoom: 19, minZoom: 3, zoomSnap: 0.25 });
  if (config.tiles) {
    L.tileLayer(config.tiles, { attribution: config.attribution || "", maxZoom: 19 }).addTo(map);
  }
  const drawn = [];
  for (const name of ["districts", "waters", "streets"]) {
    const layer = basemap.layers?.[name];
    if (!layer) continue;
    drawn.push(L.geoJSON(layer, { style: BASE_STYLES[name], interactive: false }).addTo(map));
  }
  const clusters = L.markerClusterGroup({
    chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 45,
    iconCreateFunction(cluster) {
      const members = cluster.getAllChildMarkers();
      const status = members.reduce((w, m) => (STATUS_ORDER.indexOf(m.status) > STATUS_ORDER.indexOf(w) ? m.status : w), "ok");
      const label = t("cluster", { n: number(members.length), status: statusText(status) });
      return L.divIcon({
        className: "thing-cluster", iconSize: [36, 36],
        html: `<span class="cl st-${status}" aria-hidden="true">${members.length}${CLUSTER_MARK[status] ?? "!"}</span>`
          + `<span class="sr-only">${escapeHtml(label)}</span>`,
      });
    },
  });
  map.addLayer(clusters);
  const markers = new Map();
  for (const thing of things) {
    if (!thing.lonlat) continue;
    const status = statusOf(thing, worst);
    const marker = L.marker([thing.lonlat[1], thing.lonlat[0]], { icon: markerIcon(thing, status), keyboard: true });
    marker.status = status;
    markerLink(marker, `#/things/${thing.id}`); // a button to the keyboard too
    markers.set(thing.id, marker);
  }
  const bounds = L.latLngBounds([...markers.values()].map((m) => m.getLatLng()));
  for (const layer of drawn) bounds.extend(layer.getBounds());
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] });
  else map.setView([51.0, 10.0], 6);

  function visible(thing) {
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    return !hidden.has(thing.layer) && words.every((w) => thing.search.includes(w));
  }

  function refreshList(shown) {
    count.textContent = t("map.count", { n: number(shown.length) });
    const items = shown.slice(0, LIST_MAX).map((thing) => {
      const status = statusOf(thing, worst);
      const value = mainValue(thing);
      return h("li", { dataset: { thing: thing.id } },
        h("span", { class: `mk st-${status}`, "aria-hidden": "true" }, h("span", {}, SYMBOLS[status])), " ",
        h("a", { href: `#/things/${thing.id}` }, thing.name),
        h("span", { class: "meta" }, ` ${statusText(status)}${value ? ` · ${value}` : ""}`));
    });
    if (shown.length > LIST_MAX) items.push(h("li", { class: "more" }, t("map.more", { n: number(shown.length - LIST_MAX) })));
    list.replaceChildren(...items);
  }

  function refresh() {
    const shown = things.filter(visible);
    clusters.clearLayers();
    clusters.addLayers(shown.map((thing) => markers.get(thing.id)).filter(Boolean));
    refreshList(shown);
  }

  function restyle(thing) {
    const marker = markers.get(thing.id);
    if (!marker) return;
    const status = statusOf(thing, worst);
    if (status !== marker.status) {
      marker.status = status;
      marker.setIcon(markerIcon(thing, status));
      clusters.refreshClusters(marker);
    }
  }

  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 200); });
  refresh();

  let listDirty = false;
  const listTimer = setInterval(() => {
    if (listDirty) { listDirty = false; refreshList(things.filter(visible)); }
  }, 2000);
  const off = [
    live.on("values", (values) => {
      for (const [datastream, time, result] of values) {
        const found = byDatastream.get(datastream);
        if (!found) continue;
        const [thing, d] = found;
        if (!d.time || time >= d.time) { d.time = time; d.result = result; }
        restyle(thing);
        listDirty = true;
      }
    }),
    live.on("moved", (moves) => {
      for (const [id, [lon, lat]] of moves) {
        const thing = byId.get(id);
        if (thing) thing.lonlat = [lon, lat];
        markers.get(id)?.setLatLng([lat, lon]);
      }
    }),
    live.on("alert", (event) => {
      noteAlert(open, event.alert);
      worst = severities(open);
      const thing = byId.get(event.alert.thingId);
      if (thing) { restyle(thing); listDirty = true; }
    }),
  ];
  // Times age: a Thing may fall silent without any message.
  const ageTimer = setInterval(() => { for (const thing of things) restyle(thing); }, 60_000);
  return () => {
    off.forEach((f) => f());
    clearInterval(listTimer);
    clearInterval(ageTimer);
    map.remove();
  };
}
