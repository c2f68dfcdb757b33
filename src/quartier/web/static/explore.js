// The data explorer: pick a Thing, some of its Datastreams and a time range; see the
// SensorThings query that gives the same data, the newest values, and download them as CSV.
import { dateTime, quantity, t } from "./i18n.js";
import { BASE, all, getJson, h, timeOf } from "./util.js";

const RANGES = [["h1", 1], ["d1", 24], ["d7", 24 * 7], ["d30", 24 * 30]];
const PREVIEW = 20;

/** A query value encoded as far as a URL needs, and no further, so that people can read it. */
function readable(value) {
  return encodeURIComponent(value).replace(/%2F/g, "/").replace(/%2C/g, ",").replace(/%24/g, "$")
    .replace(/%3D/g, "=").replace(/%3A/g, ":");
}

/** The SensorThings URL of the Observations of ``ids`` in the last ``hours``. */
function queryUrl(ids, hours, format) {
  const since = new Date(Date.now() - hours * 3600 * 1000).toISOString();
  const params = [
    ["$filter", `Datastream/id in (${ids.join(",")}) and phenomenonTime ge ${since}`],
    ["$orderby", "phenomenonTime desc"],
    ["$select", "phenomenonTime,result"],
    ["$expand", "Datastream($select=name)"],
  ];
  if (format) params.push(["$resultFormat", format]);
  const query = params.map(([k, v]) => `${k}=${readable(v)}`).join("&");
  return `${location.origin}${BASE}/v1.1/Observations?${query}`;
}

export async function explorePage(main) {
  const things = await all("/v1.1/Things?$select=id,name&$orderby=name&$top=1000");
  const thingSelect = h("select", { id: "explore-thing" },
    h("option", { value: "" }, "–"),
    things.map((x) => h("option", { value: x["@iot.id"] }, x.name)));
  const streams = h("fieldset", { id: "explore-datastreams" }, h("legend", {}, t("explore.datastreams")));
  const range = h("select", { id: "explore-range" },
    RANGES.map(([key, hours]) => h("option", { value: hours, selected: hours === 24 }, t(`explore.${key}`))));
  const url = h("code", { id: "explore-url" });
  const json = h("a", { id: "explore-json", target: "_blank", rel: "noopener" }, t("explore.json"));
  const csv = h("a", { id: "explore-csv", download: "observations.csv" }, t("explore.csv"));
  const result = h("section", { "aria-labelledby": "explore-query" },
    h("h2", { id: "explore-query" }, t("explore.query")), h("p", {}, url), h("p", { class: "links" }, json, " · ", csv));
  const preview = h("div", { id: "explore-preview", "aria-live": "polite" });
  const units = new Map();

  async function chooseThing() {
    streams.replaceChildren(h("legend", {}, t("explore.datastreams")));
    units.clear();
    if (!thingSelect.value) return update();
    const found = await all(`/v1.1/Things(${thingSelect.value})/Datastreams?$select=id,name,unitOfMeasurement&$orderby=name`);
    for (const d of found) {
      units.set(d.name, d.unitOfMeasurement);
      const id = `explore-ds-${d["@iot.id"]}`;
      streams.append(h("div", { class: "check" },
        h("input", { type: "checkbox", id, value: d["@iot.id"], onchange: update }),
        h("label", { for: id }, d.name)));
    }
    return update();
  }

  async function update() {
    const ids = [...streams.querySelectorAll("input:checked")].map((box) => box.value);
    result.hidden = ids.length === 0;
    if (!ids.length) {
      preview.replaceChildren(h("p", {}, t("explore.pick")));
      return;
    }
    const hours = Number(range.value);
    url.textContent = queryUrl(ids, hours, null).replace(/%20/g, " ");  // as people write it
    json.href = queryUrl(ids, hours, null);
    csv.href = queryUrl(ids, hours, "CSV");
    const page = await getJson(`${queryUrl(ids, hours, null)}&$top=${PREVIEW}`);
    const rows = page.value.map((o) => {
      const when = timeOf(o.phenomenonTime);
      const name = o.Datastream?.name ?? "";
      return h("tr", {}, h("td", {}, h("time", { datetime: when }, dateTime(when))), h("td", {}, name),
        h("td", { class: "num" }, quantity(o.result, units.get(name))));
    });
    preview.replaceChildren(
      h("h2", { id: "explore-newest" }, t("explore.preview")),
      rows.length
        ? h("table", { "aria-labelledby": "explore-newest" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("explore.time")),
            h("th", { scope: "col" }, t("explore.datastream")), h("th", { scope: "col" }, t("explore.value")))),
          h("tbody", {}, rows))
        : h("p", {}, t("explore.empty")));
  }

  thingSelect.addEventListener("change", chooseThing);
  range.addEventListener("change", update);
  main.replaceChildren(
    h("h1", {}, t("explore.title")),
    h("p", {}, t("explore.intro")),
    h("form", { class: "explore", onsubmit: (event) => event.preventDefault() },
      h("p", {}, h("label", { for: "explore-thing" }, t("explore.thing")), " ", thingSelect),
      streams,
      h("p", {}, h("label", { for: "explore-range" }, t("explore.range")), " ", range)),
    result, preview);
  result.hidden = true;
  preview.replaceChildren(h("p", {}, t("explore.pick")));
  return null;
}
