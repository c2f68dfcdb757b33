// Days and months as the reader says them, and durations as hours and minutes.
import { lang } from "./i18n.js";

/** "Sat 5 Dec" for "2026-12-05", "December 2026" for "2026-12". */
export function periodLabel(label, style = "short") {
  const [y, m, d] = label.split("-").map(Number);
  if (!d) return new Intl.DateTimeFormat(lang(), { month: style === "short" ? "short" : "long", year: "numeric" }).format(new Date(y, m - 1, 1));
  return new Intl.DateTimeFormat(lang(), { weekday: "short", day: "numeric", month: "short" }).format(new Date(y, m - 1, d));
}

/** The local date as YYYY-MM-DD, ``offset`` days from today. */
export function isoDay(offset = 0) {
  const d = new Date();
  d.setDate(d.getDate() + offset);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The reader's time zone, for figures per local day. */
export function timeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** "2 h 35 min" / "2 Std., 35 Min." from seconds. */
export function hoursMinutes(seconds) {
  const total = Math.round((seconds || 0) / 60);
  const unit = (value, name) => new Intl.NumberFormat(lang(), { style: "unit", unit: name, unitDisplay: "short" }).format(value);
  const hours = Math.floor(total / 60);
  const minutes = total % 60;
  return hours ? `${unit(hours, "hour")} ${unit(minutes, "minute")}` : unit(minutes, "minute");
}
