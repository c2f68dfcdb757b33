// The live stream (Server-Sent Events from /api/live): values, moves and alert changes.
// The browser reconnects by itself and names the last event it had, so alert changes
// missed meanwhile arrive; "hello" tells the pages to read their values again.
import { BASE } from "./util.js";
import { t } from "./i18n.js";

const handlers = { values: new Set(), moved: new Set(), alert: new Set(), hello: new Set() };
let source = null;
let connected = false;

export function on(kind, handler) {
  handlers[kind].add(handler);
  return () => handlers[kind].delete(handler);
}

export function isConnected() { return connected; }

function showState() {
  const el = document.getElementById("live-state");
  el.textContent = connected ? `● ${t("live.on")}` : `○ ${t("live.off")}`;
  el.className = connected ? "live on" : "live off";
}

export function connect() {
  source = new EventSource(`${BASE}/api/live`);
  for (const kind of Object.keys(handlers)) {
    source.addEventListener(kind, (event) => {
      const data = JSON.parse(event.data);
      if (kind === "hello") { connected = true; showState(); }
      for (const handler of handlers[kind]) {
        try { handler(data); } catch (error) { console.error(error); }
      }
    });
  }
  source.addEventListener("error", () => { connected = false; showState(); });
  showState();
}

export function refreshState() { showState(); }
