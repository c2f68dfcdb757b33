// Administration of notification channels: list, create, delete, and each channel's
// deliveries.
import { ago, dateTime, number, t } from "./i18n.js";
import { clearErrors, field, formError, showError } from "./form.js";
import { announce, getJson, h, postJson, sendJson } from "./util.js";

const KINDS = ["webhook", "mqtt", "email", "cap"];
const SEVERITIES = ["minor", "moderate", "severe", "extreme"];

function targetOf(channel) {
  if (channel.type === "webhook") return channel.url;
  if (channel.type === "mqtt") return channel.topic;
  if (channel.type === "email") return (channel.to || []).join(", ");
  return channel.cap?.sender || "";
}

function deliveriesTable(channel, answer) {
  if (!answer.value.length) return h("p", {}, t("chan.nodeliveries", { name: channel.name }));
  return h("div", { class: "table-wrap" }, h("table", { id: "deliveries" },
    h("caption", {}, t("chan.deliveriesOf", { name: channel.name, n: number(answer.count) })),
    h("thead", {}, h("tr", {}, ["createdAt", "alert", "event", "status", "attempts", "lastError"].map((k) => h("th", { scope: "col" }, t(`chan.${k}`))))),
    h("tbody", {}, answer.value.map((d) => h("tr", { dataset: { delivery: d.id, status: d.status } },
      h("td", {}, h("time", { datetime: d.createdAt, title: dateTime(d.createdAt) }, ago(d.createdAt))),
      h("td", {}, `#${d.alertId}`), h("td", {}, t(`chan.kind.${d.kind}`)),
      h("td", {}, t(`chan.status.${d.status}`)), h("td", { class: "num" }, number(d.attempts)),
      h("td", {}, d.lastError || "–"))))));
}

function channelForm(done) {
  const name = field(t("chan.name"), h("input", { id: "chan-name", required: true, autocomplete: "off" }),
    { hint: t("chan.nameHint"), keys: ["name"] });
  const kind = field(t("chan.type"), h("select", { id: "chan-type" }, KINDS.map((k) => h("option", { value: k }, t(`chan.type.${k}`)))),
    { keys: ["type", "SMTP", "email channels"] });
  const target = field(t("chan.target.webhook"), h("input", { id: "chan-target", autocomplete: "off" }),
    { hint: t("chan.targetHint.webhook"), keys: ["url", "topic", "to must", "cap."] });
  const severity = field(t("chan.minSeverity"), h("select", { id: "chan-severity" }, SEVERITIES.map((s) => h("option", { value: s }, t(`sev.${s}`)))),
    { keys: ["minSeverity"] });
  const fields = [name, kind, target, severity];
  const relabel = () => {
    target.element.querySelector("label").textContent = t(`chan.target.${kind.input.value}`);
    target.element.querySelector(".hint").textContent = t(`chan.targetHint.${kind.input.value}`);
  };
  kind.input.addEventListener("change", relabel);
  const general = formError("chan-error");
  const status = h("p", { role: "status", id: "chan-status" });
  const form = h("form", { id: "create-channel", novalidate: true }, fields.map((f) => f.element), general,
    h("button", { type: "submit", class: "primary" }, t("chan.create")), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(fields, general);
    status.textContent = "";
    const type = kind.input.value;
    const value = target.input.value.trim();
    const body = { name: name.input.value.trim(), type, minSeverity: severity.input.value };
    if (type === "webhook") body.url = value;
    if (type === "mqtt") body.topic = value;
    if (type === "email") body.to = value.split(/[,;\s]+/).filter(Boolean);
    if (type === "cap" && value) body.cap = { sender: value };
    try {
      const channel = await postJson("/api/channels", body);
      status.textContent = channel.secret ? t("chan.createdSecret", { name: channel.name, secret: channel.secret }) : t("chan.created", { name: channel.name });
      form.reset();
      relabel();
      done();
    } catch (error) { showError(fields, general, error.message); }
  });
  return form;
}

export async function channelsPage(body) {
  const listBox = h("div", { id: "channels-box" });
  const deliveryBox = h("div", { id: "deliveries-box", "aria-live": "polite" });
  async function showDeliveries(channel) {
    deliveryBox.replaceChildren(deliveriesTable(channel, await getJson(`/api/channels/${encodeURIComponent(channel.name)}/deliveries?limit=50`)));
  }
  async function load() {
    const channels = (await getJson("/api/channels")).value;
    listBox.replaceChildren(channels.length ? h("div", { class: "table-wrap" }, h("table", { id: "channels" },
      h("thead", {}, h("tr", {}, ["name", "type", "target", "minSeverity", "state", "actions"].map((k) => h("th", { scope: "col" }, t(`chan.${k}`))))),
      h("tbody", {}, channels.map((c) => h("tr", { dataset: { channel: c.name } },
        h("th", { scope: "row" }, c.name), h("td", {}, t(`chan.type.${c.type}`)), h("td", { class: "mono" }, targetOf(c)),
        h("td", {}, t(`sev.${c.minSeverity || "minor"}`)), h("td", {}, t(c.enabled === false ? "rules.disabled" : "rules.enabled")),
        h("td", { class: "actions" },
          h("button", { type: "button", "aria-label": `${t("chan.deliveries")}: ${c.name}`, onclick: () => showDeliveries(c) }, t("chan.deliveries")),
          h("button", { type: "button", "aria-label": `${t("admin.delete")}: ${c.name}`, onclick: async () => {
            if (!confirm(t("chan.confirm", { name: c.name }))) return;
            try { await sendJson("DELETE", `/api/channels/${encodeURIComponent(c.name)}`); announce(t("admin.deleted", { name: c.name })); deliveryBox.replaceChildren(); load(); }
            catch (error) { alert(t("admin.failed", { message: error.message })); }
          } }, t("admin.delete")))))))) : h("p", {}, t("chan.none")));
  }
  body.replaceChildren(
    h("section", { "aria-labelledby": "channels-heading" }, h("h2", { id: "channels-heading" }, t("chan.list")), listBox, deliveryBox),
    h("section", { "aria-labelledby": "new-channel-heading" }, h("h2", { id: "new-channel-heading" }, t("chan.new")), channelForm(load)));
  await load();
  return null;
}
