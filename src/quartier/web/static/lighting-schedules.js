// Lighting schedules: the list (switching on after sunset and off before sunrise with
// offsets, a night dimming profile), one form to create or change a schedule, and the
// compliance check (which lamps did not follow it).
import { dateTime, number, t } from "./i18n.js";
import { clearErrors, field, formError, showError } from "./form.js";
import { announce, getJson, h, postJson, sendJson } from "./util.js";
import { targetPicker, targetText } from "./lighting-targets.js";
import { timeZone } from "./periods.js";

function offsetText(minutes, event) {
  if (!minutes) return t(`sched.at.${event}`);
  return t(minutes > 0 ? `sched.after.${event}` : `sched.before.${event}`, { n: number(Math.abs(minutes)) });
}

function dimText(dim) {
  return dim ? t("sched.dimming", { level: number(dim.level), from: dim.from, until: dim.until }) : t("sched.noDim");
}

// A lamp's state in words, with its dimming level when the check names one (a lamp that
// burns at another level than the profile asks for).
function lampStateText(state, dimming) {
  if (state === null || state === undefined) return "–";
  const word = state === "on" || state === "off" ? t(`lamp.${state}`) : String(state);
  return dimming === null || dimming === undefined ? word : `${word}, ${number(dimming)} %`;
}

function complianceView(report) {
  const rows = [...report.disagreeing.map((x) => [x, "disagrees"]), ...report.unknown.map((x) => [x, "unknown"])];
  const summary = h("p", { id: "compliance-summary" }, t("sched.complianceSummary", {
    name: report.schedule, time: dateTime(report.time), lamps: number(report.lamps), settling: number(report.settling),
    wrong: number(report.disagreeing.length), unknown: number(report.unknown.length),
  }));
  if (!rows.length) return [summary, h("p", { class: "ok-note" }, t("sched.allFollow"))];
  return [summary, h("div", { class: "table-wrap" }, h("table", { id: "compliance-table" },
    h("caption", {}, t("sched.complianceCaption", { name: report.schedule })),
    h("thead", {}, h("tr", {}, ["lamp", "finding", "expected", "reported", "reportedAt"].map((k) => h("th", { scope: "col" }, t(`sched.col.${k}`))))),
    h("tbody", {}, rows.map(([x, finding]) => h("tr", { dataset: { thing: x.thingId, finding } },
      h("th", { scope: "row" }, h("a", { href: `#/things/${x.thingId}` }, x.name)),
      h("td", {}, h("span", { "aria-hidden": "true" }, finding === "disagrees" ? "✕ " : "? "), t(`sched.finding.${finding}`)),
      h("td", { class: "expected" }, lampStateText(x.expected, x.expectedDimming)),
      h("td", { class: "reported" }, lampStateText(x.reported, x.reportedDimming)),
      h("td", {}, x.reportedAt ? dateTime(x.reportedAt) : "–"))))))];
}

function schedulesTable(schedules, data, { check, edit, remove }) {
  if (!schedules.length) return h("p", {}, t("sched.none"));
  const col = (key) => h("th", { scope: "col" }, t(`sched.col.${key}`));
  return h("div", { class: "table-wrap" }, h("table", { id: "schedules" },
    h("thead", {}, h("tr", {}, ["name", "target", "on", "off", "dim", "grace", "actions"].map(col))),
    h("tbody", {}, schedules.map((s) => h("tr", { dataset: { schedule: s.name } },
      h("th", { scope: "row" }, s.name),
      h("td", {}, targetText(s.target, data)),
      h("td", {}, offsetText(s.on?.offset, "sunset")),
      h("td", {}, offsetText(s.off?.offset, "sunrise")),
      h("td", {}, dimText(s.dim), h("br"), h("small", {}, s.timezone)),
      h("td", { class: "num" }, t("sched.minutes", { n: number(s.grace) })),
      h("td", { class: "actions" },
        h("button", { type: "button", class: "check", "aria-label": `${t("sched.check")}: ${s.name}`, onclick: () => check(s) }, t("sched.check")),
        h("button", { type: "button", class: "edit", "aria-label": `${t("sched.edit")}: ${s.name}`, onclick: () => edit(s) }, t("sched.edit")),
        h("button", { type: "button", "aria-label": `${t("admin.delete")}: ${s.name}`, onclick: () => remove(s) }, t("admin.delete"))))))));
}

/** The form; ``saved`` is told the schedule the server keeps. */
function scheduleForm(choices, saved) {
  let editing = null; // the name of the schedule being changed, else a new one
  const num = (id, min, max, value) => h("input", { id, type: "number", min, max, step: "1", value, inputmode: "numeric" });
  const name = field(t("sched.name"), h("input", { id: "sched-name", autocomplete: "off", maxlength: "100" }),
    { hint: t("sched.nameHint"), keys: ["name must", "named", "name "] });
  const target = targetPicker("sched", choices);
  const on = field(t("sched.onOffset"), num("sched-on", -240, 240, "0"), { hint: t("sched.onHint"), keys: ["on.offset", "on is"] });
  const off = field(t("sched.offOffset"), num("sched-off", -240, 240, "0"), { hint: t("sched.offHint"), keys: ["off.offset", "off is"] });
  const level = field(t("sched.dimLevel"), num("sched-dim-level", 0, 100, ""), { hint: t("sched.dimHint"), keys: ["dim.level", "dim is"] });
  const from = field(t("sched.dimFrom"), h("input", { id: "sched-dim-from", type: "time", value: "23:00" }), { keys: ["dim.from"] });
  const until = field(t("sched.dimUntil"), h("input", { id: "sched-dim-until", type: "time", value: "05:00" }), { keys: ["dim.until"] });
  const zone = field(t("sched.timezone"), h("input", { id: "sched-timezone", autocomplete: "off", value: timeZone() }),
    { keys: ["timezone", "time zone"] });
  const grace = field(t("sched.grace"), num("sched-grace", 0, 720, "15"), { hint: t("sched.graceHint"), keys: ["grace"] });
  // The most particular keys first: showError blames the first field whose key it finds.
  const fields = [on, off, level, from, until, zone, grace, target.field, name];
  const general = formError("sched-error");
  const heading = h("h3", { id: "sched-form-heading" }, t("sched.new"));
  const submit = h("button", { type: "submit", class: "primary" }, t("sched.create"));
  const cancel = h("button", { type: "button", hidden: true, onclick: () => reset() }, t("sched.cancelEdit"));
  const form = h("form", { id: "schedule-form", novalidate: true, "aria-labelledby": "sched-form-heading" },
    heading, name.element, target.element,
    h("div", { class: "field-row" }, on.element, off.element),
    h("fieldset", {}, h("legend", {}, t("sched.dimLegend")), h("div", { class: "field-row" }, level.element, from.element, until.element)),
    h("div", { class: "field-row" }, zone.element, grace.element), general,
    h("p", { class: "buttons" }, submit, " ", cancel));

  const whole = (input) => (input.value.trim() === "" ? undefined : Number(input.value));
  function reset() {
    editing = null;
    clearErrors(fields, general);
    name.input.disabled = false;
    name.input.value = "";
    heading.textContent = t("sched.new");
    submit.textContent = t("sched.create");
    cancel.hidden = true;
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(fields, general);
    const body = { name: name.input.value.trim(), target: target.value(), on: { offset: whole(on.input) ?? 0 },
      off: { offset: whole(off.input) ?? 0 }, timezone: zone.input.value.trim(), grace: whole(grace.input) ?? 15 };
    if (level.input.value.trim() !== "") body.dim = { level: whole(level.input), from: from.input.value, until: until.input.value };
    try {
      const stored = editing ? await sendJson("PUT", `/api/lighting/schedules/${encodeURIComponent(editing)}`, body)
        : await postJson("/api/lighting/schedules", body);
      announce(t(editing ? "sched.changed" : "sched.created", { name: stored.name }));
      reset();
      saved(stored);
    } catch (error) { showError(fields, general, error.message); }
  });
  return {
    element: form, reset,
    edit(schedule) {
      editing = schedule.name;
      clearErrors(fields, general);
      name.input.value = schedule.name;
      name.input.disabled = true; // a schedule keeps its name
      target.set(schedule.target);
      on.input.value = String(schedule.on?.offset ?? 0);
      off.input.value = String(schedule.off?.offset ?? 0);
      level.input.value = schedule.dim ? String(schedule.dim.level) : "";
      if (schedule.dim) { from.input.value = schedule.dim.from; until.input.value = schedule.dim.until; }
      zone.input.value = schedule.timezone;
      grace.input.value = String(schedule.grace);
      heading.textContent = t("sched.editing", { name: schedule.name });
      submit.textContent = t("sched.save");
      cancel.hidden = false;
      name.input.closest("form").scrollIntoView({ block: "nearest" });
      on.input.focus();
    },
  };
}

/** The schedules section; ``load()`` reads the list. */
export function schedulesSection(data, choices) {
  const listBox = h("div", { id: "schedules-box" });
  const compliance = h("div", { id: "compliance", tabindex: "-1", "aria-live": "polite" });
  const form = scheduleForm(choices, () => load());

  async function check(schedule) {
    compliance.replaceChildren(h("p", {}, t("loading")));
    try {
      const report = await getJson(`/api/lighting/schedules/${encodeURIComponent(schedule.name)}/compliance`);
      compliance.replaceChildren(h("h3", {}, t("sched.complianceOf", { name: schedule.name })), ...complianceView(report));
    } catch (error) {
      compliance.replaceChildren(h("p", { role: "alert" }, t("error", { message: error.message })));
    }
    compliance.focus();
  }
  async function remove(schedule) {
    if (!confirm(t("sched.confirm", { name: schedule.name }))) return;
    try {
      await sendJson("DELETE", `/api/lighting/schedules/${encodeURIComponent(schedule.name)}`);
      announce(t("admin.deleted", { name: schedule.name }));
      compliance.replaceChildren();
      form.reset();
      load();
    } catch (error) { announce(t("admin.failed", { message: error.message })); }
  }
  async function load() {
    const found = await getJson("/api/lighting/schedules");
    listBox.replaceChildren(schedulesTable(found.value, data, { check, edit: (s) => form.edit(s), remove }));
  }
  const element = h("section", { "aria-labelledby": "schedules-heading", id: "lighting-schedules" },
    h("h2", { id: "schedules-heading" }, t("sched.title")), h("p", { class: "hint" }, t("sched.note")),
    listBox, compliance, form.element);
  return { element, load };
}
