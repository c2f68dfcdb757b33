// Administration of rules: the list with each rule's state (enabled, open alerts),
// enable and disable, delete, and a new rule from JSON with the server's checks shown.
import { number, t } from "./i18n.js";
import { clearErrors, field, formError, showError } from "./form.js";
import { announce, getJson, h, postJson, sendJson } from "./util.js";

const EXAMPLE = {
  name: "no2-hoch", description: "NO2 über 200 µg/m³ an einer Messstation", severity: "severe",
  target: { observedProperty: { name: "NO2" } },
  condition: { type: "threshold", above: 200, for: "PT1H" },
};

function conditionText(rule) {
  const c = rule.condition || {};
  const parts = [c.type];
  for (const key of ["above", "below", "rise", "fall", "within", "after", "for"]) {
    if (c[key] !== undefined) parts.push(`${key} ${typeof c[key] === "object" ? JSON.stringify(c[key]) : c[key]}`);
  }
  return parts.filter(Boolean).join(" · ");
}

function rulesTable(rules, openAlerts, reload) {
  if (!rules.length) return h("p", {}, t("rules.none"));
  return h("div", { class: "table-wrap" }, h("table", { id: "rules" },
    h("thead", {}, h("tr", {}, ["name", "condition", "severity", "state", "alerts", "actions"].map((k) => h("th", { scope: "col" }, t(`rules.${k}`))))),
    h("tbody", {}, rules.map((rule) => {
      const open = openAlerts.get(rule.name) || 0;
      const toggle = async () => {
        try {
          await sendJson("PATCH", `/api/rules/${encodeURIComponent(rule.name)}`, { enabled: !rule.enabled });
          announce(t(rule.enabled ? "rules.disabledNow" : "rules.enabledNow", { name: rule.name }));
          reload();
        } catch (error) { alert(t("admin.failed", { message: error.message })); }
      };
      const remove = async () => {
        if (!confirm(t("rules.confirm", { name: rule.name }))) return;
        try { await sendJson("DELETE", `/api/rules/${encodeURIComponent(rule.name)}`); announce(t("admin.deleted", { name: rule.name })); reload(); }
        catch (error) { alert(t("admin.failed", { message: error.message })); }
      };
      const levels = rule.levels ? rule.levels.map((l) => t(`sev.${l.severity}`)).join(", ") : t(`sev.${rule.severity || "minor"}`);
      return h("tr", { dataset: { rule: rule.name, enabled: String(rule.enabled) } },
        h("th", { scope: "row" }, rule.name, rule.description ? h("br") : null, rule.description ? h("small", {}, rule.description) : null),
        h("td", {}, conditionText(rule)),
        h("td", {}, levels),
        h("td", { class: "state" }, h("span", { "aria-hidden": "true" }, rule.enabled ? "● " : "○ "), t(rule.enabled ? "rules.enabled" : "rules.disabled")),
        h("td", { class: "num" }, open ? h("a", { href: "#/alerts" }, `⚠ ${number(open)}`) : "0"),
        h("td", { class: "actions" },
          h("button", { type: "button", class: "toggle", "aria-label": `${t(rule.enabled ? "rules.disable" : "rules.enable")}: ${rule.name}`, onclick: toggle },
            t(rule.enabled ? "rules.disable" : "rules.enable")),
          h("button", { type: "button", "aria-label": `${t("admin.delete")}: ${rule.name}`, onclick: remove }, t("admin.delete"))));
    }))));
}

function ruleForm(done) {
  const text = field(t("rules.json"), h("textarea", { id: "rule-json", rows: "12", spellcheck: "false", class: "code" }),
    { hint: t("rules.jsonHint"), keys: [""] });
  const general = formError("rule-error");
  const status = h("p", { role: "status" });
  const form = h("form", { id: "create-rule", novalidate: true },
    text.element, general,
    h("p", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, t("rules.create")), " ",
      h("button", { type: "button", onclick: () => { text.input.value = JSON.stringify(EXAMPLE, null, 2); text.input.focus(); } }, t("rules.example"))),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors([text], general);
    status.textContent = "";
    let body;
    try { body = JSON.parse(text.input.value); } catch (error) { return showError([text], general, t("rules.badJson", { message: error.message })); }
    try {
      const rule = await postJson("/api/rules", body);
      status.textContent = t("rules.created", { name: rule.name });
      text.input.value = "";
      done();
    } catch (error) { showError([text], general, error.message); }
  });
  return form;
}

export async function rulesPage(body) {
  const listBox = h("div", { id: "rules-box" });
  async function load() {
    const [rules, alerts] = await Promise.all([getJson("/api/rules"), getJson("/api/alerts?status=open,acknowledged&limit=1000")]);
    const open = new Map();
    for (const alert of alerts.value) open.set(alert.rule, (open.get(alert.rule) || 0) + 1);
    listBox.replaceChildren(rulesTable(rules.value, open, load));
  }
  body.replaceChildren(
    h("section", { "aria-labelledby": "rules-heading" }, h("h2", { id: "rules-heading" }, t("rules.list")), listBox),
    h("section", { "aria-labelledby": "new-rule-heading" }, h("h2", { id: "new-rule-heading" }, t("rules.new")), ruleForm(load)));
  await load();
  return null;
}
