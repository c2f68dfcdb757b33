// The dashboard's shell: language, navigation, the live stream and the pages (by hash).
import { lang, setLang, t, translatePage } from "./i18n.js";
import * as live from "./live.js";
import { apiKey, getJson, h, setApiKey } from "./util.js";
import { loadSession, renderAccount } from "./account.js";
import { mapPage } from "./map.js";
import { thingPage } from "./thing.js";
import { alertsPage, watchAlertCount } from "./alerts.js";
import { floodPage } from "./flood.js";
import { explorePage } from "./explore.js";
import { lightingPage } from "./lighting.js";
import { fleetPage } from "./fleet.js";
import { environmentPage } from "./environment.js";
import { parkingPage } from "./parking.js";
import { adminPage } from "./admin.js";
import { workOrdersPage } from "./workorders.js";

const main = document.getElementById("main");
let leave = null; // the current page's clean-up
let config = { tiles: "", attribution: "" };

const ROUTES = [
  [/^#?\/?$/, "map", () => mapPage(main, config)],
  [/^#\/things\/(\d+)$/, "map", (m) => thingPage(main, Number(m[1]))],
  [/^#\/alerts$/, "alerts", () => alertsPage(main)],
  [/^#\/workorders(?:\?thing=(\d+))?$/, "workorders", (m) => workOrdersPage(main, m[1] ? Number(m[1]) : null)],
  [/^#\/flood$/, "flood", () => floodPage(main)],
  [/^#\/explore$/, "explore", () => explorePage(main)],
  [/^#\/lighting$/, "lighting", () => lightingPage(main)],
  [/^#\/fleet(?:\?date=(\d{4}-\d{2}-\d{2}))?$/, "fleet", (m) => fleetPage(main, m[1])],
  [/^#\/environment$/, "environment", () => environmentPage(main, config)],
  [/^#\/parking$/, "parking", () => parkingPage(main, config)],
  [/^#\/admin(?:\/(devices|rules|channels))?$/, "admin", (m) => adminPage(main, m[1])],
];

async function show() {
  const hash = location.hash;
  if (hash && !hash.startsWith("#/")) return; // an in-page link such as the skip link
  const found = ROUTES.map(([re, nav, page]) => [hash.match(re), nav, page]).find(([m]) => m);
  if (leave) { try { leave(); } catch (error) { console.error(error); } leave = null; }
  main.replaceChildren(h("p", {}, t("loading")));
  if (!found) { location.hash = "#/"; return; }
  const [match, nav, page] = found;
  for (const link of document.querySelectorAll("nav a[data-route]")) {
    if (link.dataset.route === nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    leave = (await page(match)) || null;
  } catch (error) {
    console.error(error);
    main.replaceChildren(h("h1", {}, "Quartier"), h("p", { role: "alert" }, t("error", { message: error.message })));
  }
  const heading = main.querySelector("h1");
  document.title = heading ? `${heading.textContent} – Quartier` : "Quartier";
  if (document.activeElement && document.activeElement !== document.body && !main.contains(document.activeElement)
      && document.activeElement.closest("nav")) main.focus({ preventScroll: true });
}

/** The API key field: a key given once as ?key=… (the demo prints such a link) is kept for
 * this tab and taken out of the address; reads of public data need none. */
function keyField() {
  const params = new URLSearchParams(location.search);
  if (params.has("key")) {
    setApiKey(params.get("key"));
    params.delete("key");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
  }
  const input = document.getElementById("api-key");
  input.value = apiKey();
  input.addEventListener("change", () => { setApiKey(input.value.trim()); show(); });
}

/** Hide the navigation's use-case views the tenant did not choose (GET /api/dashboard/views:
 * null shows them all); the map, alerts and administration always stay. */
function chosenViews() {
  getJson("/api/dashboard/views").then(({ views }) => {
    for (const link of document.querySelectorAll("nav a[data-route]")) {
      const always = ["map", "alerts", "admin"].includes(link.dataset.route);
      link.closest("li").hidden = Array.isArray(views) && !always && !views.includes(link.dataset.route);
    }
  }).catch(() => {});
}

function start() {
  keyField();
  chosenViews();
  setLang(lang());
  translatePage();
  const select = document.getElementById("lang");
  select.value = lang();
  select.addEventListener("change", () => {
    setLang(select.value);
    translatePage();
    renderAccount();
    live.refreshState();
    show();
  });
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  window.addEventListener("hashchange", show);
  live.connect();
  watchAlertCount();
  // The session first: pages that write need its CSRF token.
  loadSession().then(renderAccount).finally(() => {
    getJson("/api/dashboard").then((c) => { config = c; }).catch(() => {}).finally(show);
  });
}

start();
