// The login page (/login, /t/{tenant}/login): a user name and password make a session,
// whose HttpOnly cookie the browser keeps; then back to the tenant's dashboard.
import { lang, setLang, t, translatePage } from "./i18n.js";

const BASE = location.pathname.replace(/\/login\/?$/, "");
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const submit = document.getElementById("login-submit");

async function logIn(event) {
  event.preventDefault();
  error.textContent = "";
  const name = document.getElementById("login-name").value.trim();
  const password = document.getElementById("login-password").value;
  submit.disabled = true;
  submit.textContent = t("login.busy");
  try {
    const response = await fetch(`${BASE}/api/session`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ name, password }),
    });
    if (response.ok) {
      location.assign(`${BASE}/`);
      return;
    }
    const body = await response.json().catch(() => null);
    error.textContent = t("login.failed", { message: body?.message || `${response.status} ${response.statusText}` });
    document.getElementById("login-password").focus();
  } catch (failure) {
    error.textContent = t("login.failed", { message: failure.message });
  } finally {
    submit.disabled = false;
    submit.textContent = t("login.submit");
  }
}

function start() {
  setLang(lang());
  translatePage();
  document.title = `${t("login.title")} – Quartier`;
  document.getElementById("login-back").href = `${BASE}/`;
  const select = document.getElementById("lang");
  select.value = lang();
  select.addEventListener("change", () => {
    setLang(select.value);
    translatePage();
    document.title = `${t("login.title")} – Quartier`;
  });
  form.addEventListener("submit", logIn);
  document.getElementById("login-name").focus();
}

start();
