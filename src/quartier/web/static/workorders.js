// Maintenance work orders for the operators on duty: the list by status and assignee,
// the fault alert each came from, a new one by hand, and one dialog to assign, start or
// close a work order (closing needs a note). Kept live: a fault alert opens one.
import { ago, dateTime, number, t } from "./i18n.js";
import * as live from "./live.js";
import { clearErrors, field, formError, showError } from "./form.js";
import { announce, getJson, h, postJson, sendJson } from "./util.js";
import { learnThingNames, thingName } from "./things.js";
import { NAME_KEY } from "./alerts.js";

export const ORDER_STATUSES = ["open", "in_progress", "done"];
const STATUS_SYMBOLS = { open: "○", in_progress: "◐", done: "●" };
const FILTERS = { active: "open,in_progress", open: "open", in_progress: "in_progress", done: "done", all: "" };
const PAGE = 100;
const RELOAD_MS = 1500; // alert changes are gathered this long before the list is read again

function statusBadge(status) {
  return h("span", { class: `order-status order-${status}` },
    h("span", { "aria-hidden": "true" }, STATUS_SYMBOLS[status] || "?"), " ", t(`wo.status.${status}`));
}

function thingCell(order) {
  if (!order.thingId) return h("td", {}, "–");
  return h("td", {}, h("a", { href: `#/things/${order.thingId}` }, thingName(order.thingId, `#${order.thingId}`)));
}

function alertCell(order, alerts) {
  if (!order.alertId) return h("td", {}, t("wo.byHand"));
  const alert = alerts.get(order.alertId);
  const words = alert ? `${alert.message} (${t(`state.${alert.status}`)})` : t("wo.alert", { id: order.alertId });
  // An alert has no page of its own: its Thing's page lists it with its actions.
  const target = alert?.thingId ?? order.thingId;
  return h("td", { class: "alert-of" }, target ? h("a", { href: `#/things/${target}` }, words) : words);
}

/** The alerts the orders came from, by id (each read once). */
async function alertsOf(orders, known) {
  const wanted = [...new Set(orders.map((o) => o.alertId).filter((id) => id && !known.has(id)))];
  await Promise.all(wanted.map((id) => getJson(`/api/alerts/${id}`).then((a) => known.set(id, a)).catch(() => {})));
  return known;
}

/** One dialog for every change: assignee, status and closing note. */
function changeDialog(order, { closing = false, done }) {
  const assignee = field(t("wo.assignee"), h("input", { id: "wo-edit-assignee", autocomplete: "off", value: order.assignee || "" }),
    { keys: ["assignee"] });
  const status = field(t("wo.status"), h("select", { id: "wo-edit-status" },
    ORDER_STATUSES.map((s) => h("option", { value: s, selected: s === (closing ? "done" : order.status) }, t(`wo.status.${s}`)))),
  { keys: ["status is"] });
  const note = field(t("wo.closingNote"), h("textarea", { id: "wo-edit-note", rows: "3" }, order.closingNote || ""),
    { hint: t("wo.closingNoteHint"), keys: ["closing note", "closingnote"] });
  const fields = [note, assignee, status];
  const general = formError("wo-edit-error");
  const title = t("wo.changeTitle", { id: order.id });
  const dialog = h("dialog", { class: "act", "aria-labelledby": "wo-edit-title" },
    h("form", { method: "dialog", novalidate: true },
      h("h2", { id: "wo-edit-title" }, title), h("p", {}, order.title),
      assignee.element, status.element, note.element, general,
      h("p", { class: "buttons" },
        h("button", { type: "submit", class: "primary" }, t("wo.save")),
        h("button", { type: "button", onclick: () => dialog.close() }, t("alerts.cancel")))));
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(fields, general);
    const change = {};
    const who = assignee.input.value.trim();
    if (who !== (order.assignee || "") && who) change.assignee = who;
    if (status.input.value !== order.status) change.status = status.input.value;
    if (note.input.value.trim() && note.input.value.trim() !== (order.closingNote || "")) change.closingNote = note.input.value.trim();
    if (!Object.keys(change).length) { dialog.close(); return; }
    try {
      const changed = await sendJson("PATCH", `/api/workorders/${order.id}`, change);
      dialog.close();
      done(changed);
    } catch (error) { showError(fields, general, error.message); }
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  (closing ? note : assignee).input.focus();
}

function ordersTable(orders, alerts, changed) {
  const col = (key) => h("th", { scope: "col" }, t(key));
  const rows = orders.map((order) => {
    const actions = [];
    if (order.status === "open") {
      actions.push(h("button", { type: "button", class: "start", "aria-label": `${t("wo.start")}: ${order.title}`,
        onclick: async () => {
          try { changed(await sendJson("PATCH", `/api/workorders/${order.id}`, { status: "in_progress" })); }
          catch (error) { announce(t("admin.failed", { message: error.message })); }
        } }, t("wo.start")));
    }
    if (order.status !== "done") {
      actions.push(
        h("button", { type: "button", class: "change", "aria-label": `${t("wo.change")}: ${order.title}`,
          onclick: () => changeDialog(order, { done: changed }) }, t("wo.change")),
        h("button", { type: "button", class: "close", "aria-label": `${t("wo.close")}: ${order.title}`,
          onclick: () => changeDialog(order, { closing: true, done: changed }) }, t("wo.close")));
    }
    return h("tr", { dataset: { order: order.id, status: order.status } },
      h("td", { class: "num" }, number(order.id)),
      h("th", { scope: "row" }, order.title, order.description && order.description !== order.title ? [h("br"), h("small", {}, order.description)] : null,
        order.closingNote ? [h("br"), h("small", { class: "closing-note" }, `${t("wo.closingNote")}: ${order.closingNote}`)] : null),
      thingCell(order), alertCell(order, alerts),
      h("td", { class: "assignee" }, order.assignee || h("span", { class: "hint" }, t("wo.nobody"))),
      h("td", { class: "status" }, statusBadge(order.status)),
      h("td", {}, h("time", { datetime: order.updatedAt, title: dateTime(order.updatedAt) }, ago(order.updatedAt))),
      h("td", { class: "actions" }, actions));
  });
  return h("div", { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": "wo-caption" },
    h("table", { id: "workorders" }, h("caption", { id: "wo-caption" }, t("wo.caption")),
      h("thead", {}, h("tr", {}, col("wo.number"), col("wo.order"), col("wo.thing"), col("wo.from"), col("wo.assignee"),
        col("wo.status"), col("wo.updated"), h("th", { scope: "col" }, t("alerts.actions")))),
      h("tbody", {}, rows)));
}

/** The form for a work order by hand; ``thing`` preselects the Thing it concerns. */
async function newOrderForm(thing, created) {
  const things = await getJson("/v1.1/Things?$select=id,name&$orderby=name&$top=1000").catch(() => ({ value: [] }));
  const title = field(t("wo.title"), h("input", { id: "wo-title", required: true, maxlength: "200" }), { keys: ["title"] });
  const description = field(t("wo.description"), h("textarea", { id: "wo-description", rows: "3" }), { keys: ["description"] });
  const thingField = field(t("wo.thing"), h("select", { id: "wo-thing" }, h("option", { value: "" }, t("wo.noThing")),
    things.value.map((x) => h("option", { value: x["@iot.id"], selected: x["@iot.id"] === thing }, x.name))), { keys: ["thingid"] });
  const assignee = field(t("wo.assignee"), h("input", { id: "wo-assignee", autocomplete: "off" }), { keys: ["assignee"] });
  const by = field(t("alerts.by"), h("input", { id: "wo-by", autocomplete: "name", value: localStorage.getItem(NAME_KEY) || "" }),
    { keys: ["createdby"] });
  const fields = [title, description, thingField, assignee, by];
  const general = formError("wo-error");
  const status = h("p", { role: "status", id: "wo-status" });
  const form = h("form", { id: "new-workorder", novalidate: true },
    title.element, description.element, thingField.element, assignee.element, by.element, general,
    h("p", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, t("wo.create"))), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(fields, general);
    status.textContent = "";
    if (!title.input.value.trim()) { showError(fields, general, t("wo.titleMissing")); return; }
    const body = { title: title.input.value.trim() };
    if (description.input.value.trim()) body.description = description.input.value.trim();
    if (thingField.input.value) body.thingId = Number(thingField.input.value);
    if (assignee.input.value.trim()) body.assignee = assignee.input.value.trim();
    if (by.input.value.trim()) { body.createdBy = by.input.value.trim(); localStorage.setItem(NAME_KEY, body.createdBy); }
    try {
      const order = await postJson("/api/workorders", body);
      status.textContent = t("wo.created", { id: order.id, title: order.title });
      title.input.value = "";
      description.input.value = "";
      created(order);
    } catch (error) { showError(fields, general, error.message); }
  });
  return form;
}

export async function workOrdersPage(main, thing = null) {
  let filter = "active";
  let orders = [];
  let total = 0;
  const alerts = new Map();
  const box = h("div", { id: "workorders-box" });
  const count = h("p", { id: "wo-count", "aria-live": "polite" });
  const choices = Object.keys(FILTERS).map((key) => h("label", {},
    h("input", { type: "radio", name: "wo-filter", value: key, checked: key === filter,
      onchange: () => { filter = key; load(); } }), ` ${t(`wo.filter.${key}`)}`));
  const assignee = h("input", { id: "wo-filter-assignee", type: "search", autocomplete: "off" });
  const assigneeForm = h("form", { class: "inline", role: "search" },
    h("label", { for: "wo-filter-assignee" }, t("wo.filterAssignee")), assignee,
    h("button", { type: "submit" }, t("wo.filterShow")));
  assigneeForm.addEventListener("submit", (event) => { event.preventDefault(); load(); });

  async function load() {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (FILTERS[filter]) params.set("status", FILTERS[filter]);
    if (assignee.value.trim()) params.set("assignee", assignee.value.trim());
    const page = await getJson(`/api/workorders?${params}`);
    orders = page.value;
    total = page.total;
    await Promise.all([learnThingNames(orders.map((o) => o.thingId)), alertsOf(orders, alerts)]);
    render();
  }

  function render() {
    count.textContent = orders.length < total ? t("wo.countSome", { n: number(orders.length), total: number(total) })
      : t(total === 1 ? "wo.count.one" : "wo.count", { n: number(total) });
    box.replaceChildren(orders.length ? ordersTable(orders, alerts, changed) : h("p", {}, t("wo.none")));
  }

  function changed(order) {
    announce(t("wo.changed", { id: order.id, status: t(`wo.status.${order.status}`) }));
    // The focus stays with the order, or (when the filter hides it now) goes to the list.
    load().then(() => (box.querySelector(`tr[data-order='${order.id}'] button, tr[data-order='${order.id}'] a`)
      || document.getElementById("wo-list-heading")).focus());
  }

  const form = await newOrderForm(thing, (order) => { announce(t("wo.created", { id: order.id, title: order.title })); load(); });
  main.replaceChildren(h("h1", {}, t("wo.heading")),
    h("section", { "aria-labelledby": "wo-list-heading" }, h("h2", { id: "wo-list-heading", tabindex: "-1" }, t("wo.list")),
      h("fieldset", { class: "filter" }, h("legend", {}, t("alerts.show")), choices), assigneeForm, count, box),
    h("section", { "aria-labelledby": "wo-new-heading" }, h("h2", { id: "wo-new-heading" }, t("wo.new")), form));
  await load();

  // A fault alert opens a work order in the same transaction: read the list again.
  let timer = null;
  const later = () => {
    if (timer) return;
    timer = setTimeout(() => { timer = null; load().catch((error) => console.error(error)); }, RELOAD_MS);
  };
  const off = [live.on("alert", later), live.on("hello", later)];
  return () => { off.forEach((f) => f()); clearTimeout(timer); };
}
