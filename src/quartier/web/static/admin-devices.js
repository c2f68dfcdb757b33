// Administration of LoRaWAN devices and device profiles: list, search, register one or
// many (CSV), delete.
import { number, t } from "./i18n.js";
import { clearErrors, field, formError, showError } from "./form.js";
import { announce, getJson, h, postJson, sendJson } from "./util.js";

const PAGE = 50;

function profilesTable(profiles, reload) {
  if (!profiles.length) return h("p", {}, t("dev.noprofiles"));
  return h("div", { class: "table-wrap" }, h("table", { id: "profiles" },
    h("thead", {}, h("tr", {}, ["name", "description", "fields", "actions"].map((k) => h("th", { scope: "col" }, t(`dev.${k}`))))),
    h("tbody", {}, profiles.map((p) => h("tr", { dataset: { profile: p.name } },
      h("th", { scope: "row" }, p.name), h("td", {}, p.description),
      h("td", {}, Object.entries(p.fields).map(([key, f]) => `${key} (${f.unitOfMeasurement?.symbol || "–"})`).join(", ")),
      h("td", {}, h("button", { type: "button", "aria-label": `${t("admin.delete")}: ${p.name}`, onclick: async () => {
        if (!confirm(t("dev.confirmProfile", { name: p.name }))) return;
        try { await sendJson("DELETE", `/api/device-profiles/${encodeURIComponent(p.name)}`); announce(t("admin.deleted", { name: p.name })); reload(); }
        catch (error) { alert(t("admin.failed", { message: error.message })); }
      } }, t("admin.delete"))))))));
}

function registerForm(profiles, done) {
  const input = (id, attrs = {}) => h("input", { id, name: id, ...attrs });
  const eui = field(t("dev.devEui"), input("dev-eui", { required: true, autocomplete: "off", spellcheck: "false" }),
    { hint: t("dev.devEuiHint"), keys: ["devEui", "DevEUI"] });
  const name = field(t("dev.name"), input("dev-name", { required: true }), { keys: ["name"] });
  const profile = field(t("dev.profile"), h("select", { id: "dev-profile", required: true },
    profiles.map((p) => h("option", { value: p.name }, p.name))), { keys: ["profile"] });
  const lat = field(t("dev.latitude"), input("dev-lat", { inputmode: "decimal" }), { hint: t("dev.latHint"), keys: ["latitude", "position"] });
  const lon = field(t("dev.longitude"), input("dev-lon", { inputmode: "decimal" }), { keys: ["longitude"] });
  const fields = [eui, name, profile, lat, lon];
  const general = formError("dev-error");
  const status = h("p", { role: "status" });
  const form = h("form", { id: "register-device", novalidate: true }, h("h3", {}, t("dev.registerOne")),
    fields.map((f) => f.element), general, h("button", { type: "submit", class: "primary" }, t("dev.register")), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(fields, general);
    status.textContent = "";
    if (!eui.input.value.trim()) return showError(fields, general, t("dev.needEui"));
    if (!name.input.value.trim()) { name.setError(t("admin.required")); name.input.focus(); return; }
    const body = { devEui: eui.input.value.trim(), name: name.input.value.trim(), profile: profile.input.value };
    const coordinate = (f) => Number(f.input.value.trim().replace(",", "."));
    if (lat.input.value.trim() || lon.input.value.trim()) body.location = { latitude: coordinate(lat), longitude: coordinate(lon) };
    try {
      const device = await postJson("/api/devices", body);
      status.textContent = t("dev.registered", { name: device.name, eui: device.devEui });
      form.reset();
      done();
    } catch (error) { showError(fields, general, error.message); }
  });
  return form;
}

function csvForm(done) {
  const file = field(t("dev.csvFile"), h("input", { id: "dev-csv", type: "file", accept: ".csv,text/csv", required: true }),
    { hint: t("dev.csvHint"), keys: ["csv"] });
  const general = formError("csv-error");
  const list = h("ul", { id: "csv-lines", class: "error" });
  const status = h("p", { role: "status" });
  const form = h("form", { id: "register-csv", novalidate: true }, h("h3", {}, t("dev.registerMany")),
    file.element, general, list, h("button", { type: "submit" }, t("dev.upload")), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors([file], general);
    list.replaceChildren();
    status.textContent = "";
    const chosen = file.input.files[0];
    if (!chosen) { file.setError(t("dev.chooseFile")); file.input.focus(); return; }
    try {
      const answer = await getJson("/api/devices", { method: "POST", body: await chosen.text(),
        headers: { Accept: "application/json", "Content-Type": "text/csv" } });
      status.textContent = t("dev.csvDone", { n: number(answer.registered) });
      form.reset();
      done();
    } catch (error) {
      file.setError(error.message);
      file.input.focus();
      list.replaceChildren(...(error.body?.errors || []).map((e) => h("li", {}, t("dev.line", { line: e.line, message: e.message }))));
    }
  });
  return form;
}

export async function devicesPage(body) {
  let profiles = [];
  let offset = 0;
  const search = h("input", { id: "device-search", type: "search", autocomplete: "off" });
  const count = h("p", { id: "device-count", "aria-live": "polite" });
  const listBox = h("div", { id: "devices-box" });
  const profileBox = h("div", { id: "profiles-box" });
  const forms = h("div", { class: "admin-forms" });

  async function loadProfiles() {
    profiles = (await getJson("/api/device-profiles")).value;
    profileBox.replaceChildren(profilesTable(profiles, loadProfiles));
    forms.replaceChildren(profiles.length ? registerForm(profiles, () => loadDevices()) : h("p", {}, t("dev.noprofiles")), csvForm(() => loadDevices()));
  }

  async function loadDevices() {
    const q = search.value.trim();
    const page = await getJson(`/api/devices?limit=${PAGE}&offset=${offset}${q ? `&q=${encodeURIComponent(q)}` : ""}`);
    count.textContent = t("dev.count", { n: number(page.total), from: number(page.total ? offset + 1 : 0), to: number(offset + page.value.length) });
    const pager = h("p", { class: "pager" },
      h("button", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); loadDevices(); } }, t("admin.previous")), " ",
      h("button", { type: "button", disabled: offset + PAGE >= page.total, onclick: () => { offset += PAGE; loadDevices(); } }, t("admin.next")));
    listBox.replaceChildren(page.value.length ? h("div", { class: "table-wrap" }, h("table", { id: "devices" },
      h("thead", {}, h("tr", {}, ["devEui", "name", "profile", "thing", "datastreams", "actions"].map((k) => h("th", { scope: "col" }, t(`dev.${k}`))))),
      h("tbody", {}, page.value.map((d) => h("tr", { dataset: { eui: d.devEui } },
        h("td", { class: "mono" }, d.devEui), h("th", { scope: "row" }, d.name), h("td", {}, d.profile),
        h("td", {}, d.thingId ? h("a", { href: `#/things/${d.thingId}` }, t("dev.open")) : "–"),
        h("td", { class: "num" }, number(Object.keys(d.datastreams).length)),
        h("td", {}, h("button", { type: "button", "aria-label": `${t("admin.delete")}: ${d.name}`, onclick: async () => {
          if (!confirm(t("dev.confirmDevice", { name: d.name }))) return;
          try { await sendJson("DELETE", `/api/devices/${d.devEui}`); announce(t("admin.deleted", { name: d.name })); loadDevices(); }
          catch (error) { alert(t("admin.failed", { message: error.message })); }
        } }, t("admin.delete")))))))) : h("p", {}, t("dev.none")), page.total > PAGE ? pager : null);
  }

  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { offset = 0; loadDevices(); }, 250); });
  body.replaceChildren(
    h("section", { "aria-labelledby": "devices-heading" }, h("h2", { id: "devices-heading" }, t("dev.devices")),
      h("div", { class: "field" }, h("label", { for: "device-search" }, t("dev.search")), search), count, listBox),
    h("section", { "aria-labelledby": "register-heading" }, h("h2", { id: "register-heading" }, t("dev.registerTitle")), forms),
    h("section", { "aria-labelledby": "profiles-heading" }, h("h2", { id: "profiles-heading" }, t("dev.profiles")), profileBox));
  await Promise.all([loadProfiles(), loadDevices()]);
  return () => clearTimeout(timer);
}
