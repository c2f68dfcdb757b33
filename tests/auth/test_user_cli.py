"""``quartier user create|list|passwd|disable``: accounts made on the command line log in to
the dashboard; the password comes from standard input and is never shown."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from conftest import AnonymousClient, TestClient, make_app
from quartier.cli import main
from quartier.settings import Settings

FIRST = "erstes langes Passwort"
SECOND = "zweites langes Passwort"


def _login(settings: Settings, name: str, password: str) -> int:
    app = make_app(settings)
    with AnonymousClient(app, raise_server_exceptions=False) as browser:
        return int(browser.post("/api/session", json={"name": name, "password": password}).status_code)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_users_are_managed_on_the_command_line(settings: Settings) -> None:
    args = ["--data-dir", str(settings.data_dir)]
    if settings.database:
        args += ["--database", settings.database]
    runner = CliRunner()
    made = runner.invoke(main, ["user", "create", "weber", "--role", "operator", *args], input=FIRST + "\n")
    assert made.exit_code == 0, made.output
    assert "created user weber" in made.output and FIRST not in made.output
    again = runner.invoke(main, ["user", "create", "weber", "--role", "viewer", *args], input=FIRST + "\n")
    assert again.exit_code == 2 and "already" in again.output
    short = runner.invoke(main, ["user", "create", "kurz", "--role", "viewer", *args], input="kurz\n")
    assert short.exit_code == 2 and "10 to 200 characters" in short.output
    listed = runner.invoke(main, ["user", "list", *args])
    assert listed.output.splitlines() == ["weber\toperator\tactive"]
    assert _login(settings, "weber", FIRST) == 200

    changed = runner.invoke(main, ["user", "passwd", "weber", *args], input=SECOND + "\n")
    assert changed.exit_code == 0, changed.output
    assert (_login(settings, "weber", FIRST), _login(settings, "weber", SECOND)) == (401, 200)

    disabled = runner.invoke(main, ["user", "disable", "weber", *args])
    assert disabled.exit_code == 0, disabled.output
    assert "disabled" in runner.invoke(main, ["user", "list", *args]).output
    assert _login(settings, "weber", SECOND) == 403
    missing = runner.invoke(main, ["user", "disable", "niemand", *args])
    assert missing.exit_code == 2 and "no user 'niemand'" in missing.output

    with TestClient(make_app(settings)) as admin:
        rows = admin.get("/api/audit").json()["value"]
    actions = sorted(r["action"] for r in rows if r["principal"].startswith("cli:"))
    assert actions == ["users.create", "users.update", "users.update"]
    assert all(FIRST not in str(r) and SECOND not in str(r) for r in rows)
