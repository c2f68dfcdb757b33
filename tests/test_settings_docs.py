"""Every setting is documented once: in the CLI help and in the README's table."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from quartier.cli import main
from quartier.errors import SettingsError
from quartier.settings import Settings, documented_settings

README = (Path(__file__).parent.parent / "README.md").read_text("utf-8")


@pytest.mark.parametrize("name,option", [(n, o) for n, o, _d, _h in documented_settings()])
def test_setting_is_documented(name: str, option: str) -> None:
    row = next((line for line in README.splitlines() if line.startswith(f"| `{option}`")), None)
    assert row is not None, f"README's settings table lacks {option}"
    assert f"`{Settings.env_name(name)}`" in row
    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    assert option in help_text


def test_environment_and_overrides() -> None:
    settings = Settings.from_env({"QUARTIER_PORT": "9001", "QUARTIER_MAX_TOP": "500"}, max_top=None)
    assert settings.port == 9001
    assert settings.max_top == 500
    assert Settings.from_env({"QUARTIER_PORT": "9001"}, port="9002").port == 9002


@pytest.mark.parametrize(
    "values",
    [{"port": "0"}, {"port": "x"}, {"database": "mysql://db"}, {"default_top": "0"},
     {"max_top": "5", "default_top": "10"}, {"log_level": "loud"}, {"colour": "red"}],
)
def test_invalid_settings_are_refused(values: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.validated(values)
