"""Which use-case views a tenant's dashboard shows in its navigation.

Without a choice stored, every view is shown. A tenant may choose a list; installing a
package then adds the views the package needs to it (see :mod:`.install`).
"""

from __future__ import annotations

from typing import Any

from quartier.errors import BadRequest
from quartier.model.values import JSON
from quartier.store import Store
from quartier.usecases.packages.format import VIEWS


def parse_views(body: Any) -> list[str] | None:
    """The list of ``{"views": [...]}`` (null: show every view); 400 otherwise."""
    if not isinstance(body, dict) or set(body) != {"views"}:
        raise BadRequest(f'send {{"views": [...]}} with some of {", ".join(VIEWS)}, or '
                         '{"views": null} to show every view')
    views = body["views"]
    if views is None:
        return None
    if not isinstance(views, list) or not all(isinstance(v, str) for v in views):
        raise BadRequest("views must be a list of view names, or null")
    wrong = [v for v in views if v not in VIEWS]
    if wrong:
        raise BadRequest(f"the dashboard has the views {', '.join(VIEWS)}, not {wrong[0]!r}")
    return list(dict.fromkeys(views))


async def shown(store: Store, tenant_id: int) -> list[str] | None:
    """The views the tenant's navigation shows; None: every view."""
    async with store.reader() as conn:
        raw = await conn.fetchval("SELECT views FROM dashboard_views WHERE tenant_id = ?", (tenant_id,))
    return None if raw is None else list(store.dialect.decode(JSON, raw))


async def choose(store: Store, tenant_id: int, views: list[str] | None) -> None:
    async with store.transaction() as conn:
        await conn.execute("DELETE FROM dashboard_views WHERE tenant_id = ?", (tenant_id,))
        if views is not None:
            await conn.execute("INSERT INTO dashboard_views (tenant_id, views) VALUES (?, ?)",
                               (tenant_id, store.dialect.encode(JSON, views)))
