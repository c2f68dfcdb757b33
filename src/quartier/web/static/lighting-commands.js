// Switching and dimming by hand: a command to a lamp, a circuit, a district or a group
// (POST /api/lighting/commands makes one Task per lamp), then each Task's state as it
// goes from pending to sent and to confirmed or failed.
import { dateTime, number, t } from "./i18n.js";
import { clearErrors, field, formError, showError } from "./form.js";
import { announce, getJson, h, postJson } from "./util.js";
import { targetPicker } from "./lighting-targets.js";

const FINAL = new Set(["confirmed", "failed"]);
const POLL_MS = 2000;
const TASK_SYMBOLS = { created: "…", sent: "→", confirmed: "✓", failed: "✕" };

function taskState(status) {
  const state = TASK_SYMBOLS[status] ? status : "created";
  return h("span", { class: `task-${state}` }, h("span", { "aria-hidden": "true" }, TASK_SYMBOLS[state]), " ", t(`task.${state}`));
}

function tasksTable(tasks, states, lampName) {
  return h("div", { class: "table-wrap" }, h("table", { id: "command-tasks" },
    h("caption", {}, t("cmd.tasksCaption", { n: number(tasks.length) })),
    h("thead", {}, h("tr", {}, ["task", "lamp", "state", "since", "reason"].map((k) => h("th", { scope: "col" }, t(`cmd.col.${k}`))))),
    h("tbody", {}, tasks.map((task) => {
      const state = states.get(task.taskId) || {};
      return h("tr", { dataset: { task: task.taskId, status: state.status || "created" } },
        h("td", { class: "num" }, number(task.taskId)),
        h("th", { scope: "row" }, h("a", { href: `#/things/${task.thingId}` }, lampName(task.thingId))),
        h("td", { class: "state" }, taskState(state.status)),
        h("td", {}, state.statusTime ? dateTime(state.statusTime) : "–"),
        h("td", {}, state.statusReason || ""));
    }))));
}

/** The command section; ``stop()`` ends the following of Task states. */
export function commandsSection(data, choices) {
  const target = targetPicker("cmd", choices);
  const switchChoice = (value) => h("span", { class: "choice" },
    h("input", { type: "radio", name: "cmd-switch", id: `cmd-switch-${value}`, value, checked: value === "on" }),
    h("label", { for: `cmd-switch-${value}` }, t(`cmd.switch.${value}`)));
  const dim = field(t("cmd.dim"), h("input", { id: "cmd-dim", type: "number", min: "0", max: "100", step: "1", inputmode: "numeric" }),
    { hint: t("cmd.dimHint"), keys: ["dim"] });
  const fields = [dim, target.field];
  const general = formError("cmd-error");
  const result = h("div", { id: "command-result", "aria-live": "polite" });
  const form = h("form", { id: "command-form", novalidate: true },
    target.element,
    h("fieldset", {}, h("legend", {}, t("cmd.switch")), ["on", "off", "keep"].map(switchChoice)),
    dim.element, general,
    h("p", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, t("cmd.send"))));
  const lampName = (id) => data.lamps.find((l) => l.id === id)?.name ?? `#${id}`;
  let timer = null;

  async function follow(answer) {
    clearTimeout(timer);
    const states = new Map();
    const ids = answer.tasks.map((task) => task.taskId);
    const note = answer.withoutCapability.length
      ? h("p", { class: "hint" }, t("cmd.without", { n: number(answer.withoutCapability.length) })) : null;
    const read = async () => {
      for (let i = 0; i < ids.length; i += 100) {
        const filter = encodeURIComponent(`id in (${ids.slice(i, i + 100).join(",")})`);
        const page = await getJson(`/v1.1/Tasks?$select=id,status,statusTime,statusReason&$top=100&$filter=${filter}`);
        for (const task of page.value) states.set(task["@iot.id"], task);
      }
      // replaceChildren would write a missing note as the text "null".
      result.replaceChildren(...[h("p", { role: "status" }, t(ids.length === 1 ? "cmd.sent.one" : "cmd.sent", { n: number(ids.length) })), note,
        tasksTable(answer.tasks, states, lampName)].filter(Boolean));
      const open = ids.some((id) => !FINAL.has(states.get(id)?.status));
      if (open) timer = setTimeout(() => read().catch((error) => console.error(error)), POLL_MS);
    };
    await read();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(fields, general);
    const parameters = {};
    const chosen = form.querySelector("input[name=cmd-switch]:checked").value;
    if (chosen !== "keep") parameters.switch = chosen;
    if (dim.input.value.trim() !== "") parameters.dim = Number(dim.input.value);
    if (!Object.keys(parameters).length) { showError(fields, general, t("cmd.nothing")); return; }
    try {
      const answer = await postJson("/api/lighting/commands", { target: target.value(), parameters });
      announce(t(answer.tasks.length === 1 ? "cmd.sent.one" : "cmd.sent", { n: number(answer.tasks.length) }));
      await follow(answer);
    } catch (error) { showError(fields, general, error.message); }
  });
  const element = h("section", { "aria-labelledby": "commands-heading", id: "lighting-commands" },
    h("h2", { id: "commands-heading" }, t("cmd.title")), h("p", { class: "hint" }, t("cmd.note")), form, result);
  return { element, stop: () => clearTimeout(timer) };
}
