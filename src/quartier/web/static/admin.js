// The administration pages: devices and device profiles, rules, notification channels.
import { t } from "./i18n.js";
import { h } from "./util.js";
import { devicesPage } from "./admin-devices.js";
import { rulesPage } from "./admin-rules.js";
import { channelsPage } from "./admin-channels.js";

const SECTIONS = [["devices", devicesPage], ["rules", rulesPage], ["channels", channelsPage]];

export async function adminPage(main, section = "devices") {
  const [, page] = SECTIONS.find(([key]) => key === section) || SECTIONS[0];
  const body = h("div", { id: "admin-body" });
  main.replaceChildren(
    h("h1", {}, `${t("admin.title")}: ${t(`admin.${section}`)}`),
    h("nav", { class: "subnav", "aria-label": t("admin.sections") }, h("ul", {},
      SECTIONS.map(([key]) => h("li", {}, h("a", { href: `#/admin/${key}`, "aria-current": key === section ? "page" : null },
        t(`admin.${key}`)))))),
    body);
  return page(body);
}
