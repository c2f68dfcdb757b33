// The header's account area: who is logged in, with a log-out button, or a log-in link.
import { t } from "./i18n.js";
import { BASE, getJson, h, setCsrfToken } from "./util.js";

let who = null; // GET /api/session: {user, role, csrfToken, …}

/** Ask the server who this browser is; keeps the session's CSRF token for writes. */
export async function loadSession() {
  try {
    who = await getJson("/api/session");
  } catch (error) {
    console.error(error);
    who = null;
  }
  setCsrfToken(who?.csrfToken);
  return who;
}

/** The logged-in user's name ("" when none). */
export function userName() { return who?.user || ""; }

async function logOut() {
  try {
    await getJson("/api/session", { method: "DELETE" });
  } finally {
    setCsrfToken("");
    location.reload();
  }
}

/** Draw the account area (again, e.g. after a change of language). */
export function renderAccount() {
  const area = document.getElementById("account");
  if (who?.user) {
    area.replaceChildren(
      h("span", { id: "account-user" }, t("account.as", { user: who.user, role: who.role })),
      h("button", { type: "button", id: "logout", onclick: logOut }, t("account.logout")));
  } else {
    area.replaceChildren(h("a", { href: `${BASE}/login`, id: "login-link" }, t("account.login")));
  }
}
