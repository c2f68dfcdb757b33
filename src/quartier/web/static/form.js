// Accessible form fields: a label, an optional hint, and an error message tied to the
// input (aria-describedby, aria-invalid), so that screen readers read the error with it.
import { h } from "./util.js";

/** A labelled field around ``input`` (an element with an id). */
export function field(label, input, { hint = "", keys = [] } = {}) {
  const id = input.id;
  const hintEl = hint ? h("span", { id: `${id}-hint`, class: "hint" }, hint) : null;
  const error = h("span", { id: `${id}-error`, class: "field-error" });
  const described = () => [hintEl ? hintEl.id : null, error.textContent ? error.id : null].filter(Boolean).join(" ");
  const refresh = () => {
    const ids = described();
    if (ids) input.setAttribute("aria-describedby", ids); else input.removeAttribute("aria-describedby");
  };
  refresh();
  return {
    input, keys,
    element: h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl, error),
    setError(message) {
      error.textContent = message ? `⚠ ${message}` : "";
      if (message) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
      refresh();
    },
  };
}

/** Show a server's (or the page's own) error at the field its message names, else in
 * ``general``; the field with the error gets the focus. */
export function showError(fields, general, message) {
  for (const f of fields) f.setError("");
  general.textContent = "";
  const lower = String(message).toLowerCase();
  const target = fields.find((f) => f.keys.some((key) => lower.includes(key.toLowerCase())));
  if (target) {
    target.setError(message);
    target.input.focus();
  } else {
    general.textContent = `⚠ ${message}`;
    general.focus();
  }
}

export function clearErrors(fields, general) {
  for (const f of fields) f.setError("");
  general.textContent = "";
}

/** The form-level error line: announced, and focusable when there is no field to blame. */
export function formError(id) {
  return h("p", { id, class: "error", role: "alert", tabindex: "-1" });
}
