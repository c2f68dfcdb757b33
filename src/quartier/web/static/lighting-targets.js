// What a lighting command or schedule is for: one lamp, a circuit, a district or a saved
// group, chosen in two labelled selects (the kind, then which one).
import { t } from "./i18n.js";
import { h } from "./util.js";

export const TARGET_KINDS = ["thing", "circuit", "district", "group"];

/** The choices of each kind: [value, label] pairs, from /api/lighting/lamps and the groups. */
export function targetChoices(data, groups) {
  const circuits = data.circuits.filter((c) => c.cabinet)
    .map((c) => [JSON.stringify({ cabinet: c.cabinet, circuit: c.circuit }), `${c.cabinet} · ${t("lighting.circuit")} ${c.circuit ?? "–"}`]);
  const districts = [...new Set(data.lamps.map((l) => l.district).filter(Boolean))].sort().map((d) => [d, d]);
  const lamps = [...data.lamps].sort((a, b) => a.name.localeCompare(b.name)).map((l) => [String(l.id), l.name]);
  return { thing: lamps, circuit: circuits, district: districts, group: groups.map((g) => [g.name, g.name]) };
}

/** The target of a stored command or schedule, in words. */
export function targetText(target, data) {
  if (!target) return "–";
  if ("thing" in target) return `${t("target.thing")}: ${data.lamps.find((l) => l.id === target.thing)?.name ?? target.thing}`;
  if ("cabinet" in target) return `${t("target.circuit")}: ${target.cabinet} · ${target.circuit}`;
  if ("district" in target) return `${t("target.district")}: ${target.district}`;
  return `${t("target.group")}: ${target.group}`;
}

/** Two selects with ids ``{prefix}-kind`` and ``{prefix}-which``; value() is the API's
 * target object, set(target) shows a stored one. */
export function targetPicker(prefix, choices) {
  const kind = h("select", { id: `${prefix}-kind` },
    TARGET_KINDS.map((k) => h("option", { value: k, disabled: !choices[k].length }, t(`target.${k}`))));
  const which = h("select", { id: `${prefix}-which` });
  const whichLabel = h("label", { for: `${prefix}-which` });
  const fill = () => {
    whichLabel.textContent = t(`target.which.${kind.value}`);
    which.replaceChildren(...choices[kind.value].map(([value, label]) => h("option", { value }, label)));
  };
  kind.addEventListener("change", fill);
  kind.value = TARGET_KINDS.find((k) => choices[k].length) || "thing";
  fill();
  const error = h("span", { id: `${prefix}-target-error`, class: "field-error" });
  return {
    element: h("fieldset", { class: "target" }, h("legend", {}, t("target.legend")),
      h("div", { class: "field" }, h("label", { for: `${prefix}-kind` }, t("target.kind")), kind),
      h("div", { class: "field" }, whichLabel, which), error),
    value() {
      const v = which.value;
      if (kind.value === "thing") return { thing: Number(v) };
      if (kind.value === "circuit") return JSON.parse(v || "{}");
      return { [kind.value]: v };
    },
    set(target) {
      const k = "thing" in target ? "thing" : "cabinet" in target ? "circuit" : "district" in target ? "district" : "group";
      kind.value = k;
      fill();
      which.value = k === "circuit" ? JSON.stringify({ cabinet: target.cabinet, circuit: target.circuit })
        : String(target[k]);
    },
    // A field for form.js's showError: the target's error is told beside both selects.
    field: {
      input: which, keys: ["target", "no lamps", "taskingcapability"],
      setError(message) {
        error.textContent = message ? `⚠ ${message}` : "";
        for (const el of [kind, which]) {
          if (message) { el.setAttribute("aria-invalid", "true"); el.setAttribute("aria-describedby", error.id); }
          else { el.removeAttribute("aria-invalid"); el.removeAttribute("aria-describedby"); }
        }
      },
    },
  };
}
