// The alerts board: open and recent alerts, live, with acknowledge and resolve.
import { userName } from "./account.js";
import { ago, dateTime, number, quantity, t } from "./i18n.js";
import * as live from "./live.js";
import { announce, getJson, h, postJson } from "./util.js";
import { learnThingNames, loadOpenAlerts, noteAlert, thingName } from "./things.js";

const SEVERITY_SYMBOL = { minor: "!", moderate: "!!", severe: "!!!", extreme: "!!!!" };
export const NAME_KEY = "quartier.operator"; // the name an operator last gave

function severityCell(alert) {
  return h("td", { class: "severity" }, h("span", { class: `sev sev-${alert.severity}` },
    h("span", { "aria-hidden": "true" }, SEVERITY_SYMBOL[alert.severity] || "!"), " ", t(`sev.${alert.severity}`)));
}

function statusCell(alert) {
  const parts = [t(`state.${alert.status}`)];
  if (alert.acknowledgedBy && alert.status !== "open") parts.push(` (${t("alerts.ackBy", { by: alert.acknowledgedBy })})`);
  return h("td", { class: `state state-${alert.status}` }, parts.join(""));
}

/** Ask for a name and comment, then acknowledge or resolve; the dialog is modal. */
function act(alert, action, done) {
  const title = t(action === "acknowledge" ? "alerts.ackTitle" : "alerts.resolveTitle");
  const by = h("input", { id: "act-by", name: "by", required: true, autocomplete: "name", value: localStorage.getItem(NAME_KEY) || userName() });
  const comment = h("textarea", { id: "act-comment", name: "comment", rows: "3" });
  const error = h("p", { class: "error", role: "alert" });
  const dialog = h("dialog", { class: "act", "aria-labelledby": "act-title" },
    h("form", { method: "dialog" },
      h("h2", { id: "act-title" }, title),
      h("p", {}, alert.message),
      h("p", {}, h("label", { for: "act-by" }, t("alerts.by")), by),
      h("p", {}, h("label", { for: "act-comment" }, t("alerts.comment")), comment),
      error,
      h("p", { class: "buttons" },
        h("button", { type: "submit", class: "primary", value: "ok" }, title),
        h("button", { type: "button", onclick: () => dialog.close() }, t("alerts.cancel")))));
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!by.value.trim()) { by.focus(); return; }
    localStorage.setItem(NAME_KEY, by.value.trim());
    try {
      const changed = await postJson(`/api/alerts/${alert.id}/${action}`,
        { by: by.value.trim(), ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) });
      dialog.close();
      done(changed);
    } catch (failure) {
      error.textContent = t("alerts.failed", { message: failure.message });
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  (by.value ? comment : by).focus();
}

/** A table of alerts with their actions; ``alerts`` (id -> alert) is updated by the actions. */
export function alertTable(list, { showThing = true, onChange = () => {}, alerts = new Map() } = {}) {
  const rows = list.map((alert) => {
    const actions = [];
    if (alert.status === "open") {
      actions.push(h("button", { type: "button", class: "ack", "aria-label": `${t("alerts.ack")}: ${alert.message}`,
        onclick: () => act(alert, "acknowledge", (changed) => { alerts.set(changed.id, changed); onChange(changed); }) }, t("alerts.ack")));
    }
    if (alert.status !== "resolved") {
      actions.push(h("button", { type: "button", class: "resolve", "aria-label": `${t("alerts.resolve")}: ${alert.message}`,
        onclick: () => act(alert, "resolve", (changed) => { noteAlert(alerts, changed); onChange(changed); }) }, t("alerts.resolve")));
    }
    const value = alert.value !== null && alert.value !== undefined ? ` (${quantity(alert.value)})` : "";
    return h("tr", { dataset: { alert: alert.id, status: alert.status } },
      severityCell(alert),
      h("td", {}, h("strong", {}, alert.levelName), " ", alert.message, value, h("br"), h("small", {}, alert.rule)),
      showThing ? h("td", {}, alert.thingId ? h("a", { href: `#/things/${alert.thingId}` }, thingName(alert.thingId, alert.subject)) : alert.subject) : null,
      h("td", {}, h("time", { datetime: alert.openedAt, title: dateTime(alert.openedAt) }, ago(alert.openedAt))),
      statusCell(alert),
      h("td", { class: "actions" }, actions));
  });
  return h("div", { class: "table-wrap" }, h("table", { class: "alerts" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, t("alerts.severity")), h("th", { scope: "col" }, t("alerts.alert")),
      showThing ? h("th", { scope: "col" }, t("alerts.thing")) : null,
      h("th", { scope: "col" }, t("alerts.opened")), h("th", { scope: "col" }, t("alerts.status")),
      h("th", { scope: "col" }, t("alerts.actions")))),
    h("tbody", {}, rows)));
}

export async function alertsPage(main) {
  let filter = "open";
  const box = h("div", { id: "alerts-box" });
  let alerts = new Map();
  const choices = [["open", t("alerts.open")], ["recent", t("alerts.recent")]].map(([value, label]) =>
    h("label", {}, h("input", { type: "radio", name: "alert-filter", value, checked: value === filter,
      onchange: () => { filter = value; load(); } }), ` ${label}`));
  main.replaceChildren(h("h1", {}, t("alerts.title")),
    h("fieldset", { class: "filter" }, h("legend", {}, t("alerts.show")), choices), box);

  async function load() {
    const query = filter === "open" ? "status=open,acknowledged&limit=500" : "limit=200";
    const page = await getJson(`/api/alerts?${query}`);
    alerts = new Map(page.value.map((a) => [a.id, a]));
    await learnThingNames(page.value.map((a) => a.thingId));
    render();
  }

  function render() {
    const list = [...alerts.values()].filter((a) => filter !== "open" || a.status !== "resolved")
      .sort((a, b) => (b.openedAt > a.openedAt ? 1 : -1));
    box.replaceChildren(list.length ? alertTable(list, { alerts, onChange: render }) : h("p", {}, t("alerts.none")));
  }

  await load();
  const off = [
    live.on("alert", (event) => {
      const isNew = !alerts.has(event.alert.id);
      alerts.set(event.alert.id, event.alert);
      learnThingNames([event.alert.thingId]).finally(render);
      if (event.kind === "opened" || event.kind === "escalated") {
        announce(t(isNew ? "alerts.new" : "alerts.changed", { message: event.alert.message }));
      }
    }),
    live.on("hello", () => { load(); }),
  ];
  return () => off.forEach((f) => f());
}

/** The number of open alerts beside "Alerts" in the navigation, kept live. */
export function watchAlertCount() {
  const badge = document.getElementById("alert-count");
  let open = new Map();
  const show = () => {
    const n = [...open.values()].filter((a) => a.status === "open").length;
    badge.hidden = n === 0;
    badge.replaceChildren(n ? number(n) : "", n ? h("span", { class: "sr-only" }, ` ${t("state.open")}`) : "");
  };
  const reload = () => loadOpenAlerts().then((m) => { open = m; show(); }).catch(() => {});
  live.on("hello", reload);
  live.on("alert", (event) => { noteAlert(open, event.alert); show(); });
}
