"""The ``quartier`` command line."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from quartier import __version__
from quartier.errors import QuartierError
from quartier.settings import Settings, documented_settings

log = logging.getLogger("quartier")


def _setting_options(fn: Any) -> Any:
    """One click option per setting, each defaulting to its ``QUARTIER_*`` variable."""
    for name, option, _default, help_text in reversed(documented_settings()):
        if option is None:
            continue
        fn = click.option(
            option, name, default=None, help=f"{help_text} [env: {Settings.env_name(name)}]"
        )(fn)
    return fn


@click.group()
@click.version_option(__version__, prog_name="quartier")
def main() -> None:
    """Quartier: an open urban data platform (OGC SensorThings API)."""


@main.command()
@_setting_options
def serve(**options: Any) -> None:
    """Start the server (embedded SQLite unless --database names PostgreSQL)."""
    settings = _settings(options)
    _run(settings)


@main.group()
def tenant() -> None:
    """Manage tenants: the municipalities that share one platform."""


@tenant.command("create")
@click.argument("name")
@click.option("--region", is_flag=True,
              help="A region tenant (e.g. a district): it reads, read-only, what its member "
                   "tenants grant it, and holds no data of its own.")
@_setting_options
def tenant_create(name: str, region: bool, **options: Any) -> None:
    """Add a tenant NAME; its SensorThings API is served at /t/NAME/v1.1."""
    settings = _settings(options)
    _with_store(settings, lambda store: store.create_tenant(name, region=region))
    click.echo(f"created {'region ' if region else ''}tenant {name}: /t/{name}/v1.1")


@tenant.command("grant")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("region")
@click.option("--thing", type=int, help="Share this Thing, its Datastreams and their Observations.")
@click.option("--datastream", type=int, help="Share this Datastream and its Observations.")
@_setting_options
def tenant_grant(tenant_name: str, region: str, thing: int | None, datastream: int | None,
                 **options: Any) -> None:
    """Let the region tenant REGION read one Thing or Datastream of TENANT."""
    if (thing is None) == (datastream is None):
        raise click.UsageError("name one of --thing or --datastream")
    kind, entity_id = ("Thing", thing) if thing is not None else ("Datastream", datastream)
    settings = _settings(options)

    async def run(store: Any) -> Any:
        from quartier.store import sharing

        return await sharing.grant(store, await _tenant_id(store, tenant_name), region, kind,
                                   int(entity_id or 0))

    made = _with_store(settings, run)
    click.echo(f"grant {made['id']}: {region} reads {kind}({entity_id}) of {tenant_name}")


@tenant.command("revoke")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("grant_id", type=int)
@_setting_options
def tenant_revoke(tenant_name: str, grant_id: int, **options: Any) -> None:
    """Take back the grant GRANT_ID of TENANT."""
    settings = _settings(options)

    async def run(store: Any) -> None:
        from quartier.store import sharing

        await sharing.revoke(store, await _tenant_id(store, tenant_name), grant_id)

    _with_store(settings, run)
    click.echo(f"revoked grant {grant_id}")


@tenant.command("grants")
@click.argument("tenant_name", metavar="TENANT")
@_setting_options
def tenant_grants(tenant_name: str, **options: Any) -> None:
    """List what TENANT shares, one grant a line."""
    settings = _settings(options)

    async def run(store: Any) -> Any:
        from quartier.store import sharing

        return await sharing.grants(store, await _tenant_id(store, tenant_name))

    for made in _with_store(settings, run):
        click.echo(f"{made['id']}\t{made['region']}\t{made['entityType']}({made['entityId']})")


@tenant.command("list")
@_setting_options
def tenant_list(**options: Any) -> None:
    """List the tenants."""
    settings = _settings(options)
    for name in _with_store(settings, lambda store: store.tenant_names()):
        click.echo(name)


@main.group()
def mqtt() -> None:
    """The MQTT broker's side of Quartier."""


@mqtt.command("acl")
@click.option("--server-user", default="quartier", show_default=True,
              help="The MQTT user Quartier itself connects as (in its --mqtt URL).")
@click.option("--reader", "readers", multiple=True,
              help="A broker user who may read internal topics: NAME for every tenant's, "
                   "NAME:TENANT for one tenant's. Repeatable.")
@click.option("--device", "devices", multiple=True,
              help="A broker user that stands for one device, NAME:THING_ID (NAME:THING_ID:"
                   "TENANT for another tenant than the default): it may publish Observations "
                   "only to that Thing's Datastreams. Repeatable.")
@click.option("--closed", is_flag=True,
              help="Anonymous clients (and --reader users) may only read: Observations come "
                   "from --device users alone.")
@_setting_options
def mqtt_acl(server_user: str, readers: tuple[str, ...], devices: tuple[str, ...],
             closed: bool, **options: Any) -> None:
    """Print a Mosquitto acl_file: anyone reads the public topics and publishes
    Observations and Tasks (unless --closed); only the --reader users read the internal
    topics (--mqtt-internal-prefix); each --device user publishes only to its Thing's
    Datastreams."""
    from quartier.mqtt.internal import acl, device_users

    settings = _settings(options)
    if readers and not settings.mqtt_internal_prefix:
        raise click.UsageError("readers need --mqtt-internal-prefix: without it internal "
                               "changes are not published at all")
    users = _with_store(settings, lambda store: device_users(store, settings.mqtt_prefix, devices)) \
        if devices else []
    click.echo(acl(settings.mqtt_prefix, settings.mqtt_internal_prefix, server_user, readers,
                   users, closed), nl=False)


@main.group()
def key() -> None:
    """Manage API keys: each belongs to a tenant and has a role (viewer, operator, editor,
    admin). The first admin key of a new install is made here."""


@key.command("create")
@click.option("--tenant", "tenant_name", default="default", show_default=True)
@click.option("--role", default=None, type=click.Choice(["viewer", "operator", "editor", "admin"]),
              help="The key's role; needed unless --device is given.")
@click.option("--name", "key_name", required=True, help="What the key is for, e.g. who holds it.")
@click.option("--expires", default=None, help="An ISO 8601 duration (P90D) or time; default: never.")
@click.option("--scope", "scopes", multiple=True,
              help="An API area the key may use (repeatable); default: all.")
@click.option("--device", "thing", type=int, default=None,
              help="Make a device credential of this Thing (@iot.id): it may only add "
                   "Observations to the Thing's Datastreams.")
@_setting_options
def key_create(tenant_name: str, role: str | None, key_name: str, expires: str | None,
               scopes: tuple[str, ...], thing: int | None, **options: Any) -> None:
    """Make an API key and print it once; only its hash is kept."""
    from quartier.auth.cli import create_key

    if (role is None) == (thing is None) or (thing is not None and scopes):
        raise click.UsageError("give either --role (and --scope) or --device")
    settings = _settings(options)
    made = _with_store(settings, lambda store: create_key(store, tenant_name, role, key_name,
                                                          expires, scopes, thing))
    click.echo(made)


@key.command("list")
@click.option("--tenant", "tenant_name", default="default", show_default=True)
@_setting_options
def key_list(tenant_name: str, **options: Any) -> None:
    """List a tenant's keys (never the keys themselves)."""
    from quartier.auth.cli import list_keys

    settings = _settings(options)
    for line in _with_store(settings, lambda store: list_keys(store, tenant_name)):
        click.echo(line)


@key.command("revoke")
@click.argument("key_id", type=int)
@click.option("--tenant", "tenant_name", default="default", show_default=True)
@_setting_options
def key_revoke(key_id: int, tenant_name: str, **options: Any) -> None:
    """Revoke the key KEY_ID (as `quartier key list` shows it) at once."""
    from quartier.auth.cli import revoke_key

    settings = _settings(options)
    click.echo(_with_store(settings, lambda store: revoke_key(store, tenant_name, key_id)))


@main.group()
def user() -> None:
    """Manage the dashboard's user accounts: each belongs to a tenant and has a role
    (viewer, operator, editor, admin). Passwords are asked for, or read from standard input."""


_ROLE = click.Choice(["viewer", "operator", "editor", "admin"])


def _password() -> str:
    """A new password: typed twice at a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@user.command("create")
@click.argument("name")
@click.option("--role", required=True, type=_ROLE)
@click.option("--tenant", "tenant_name", default="default", show_default=True)
@_setting_options
def user_create(name: str, role: str, tenant_name: str, **options: Any) -> None:
    """Make the account NAME, which logs in to the dashboard at /login."""
    from quartier.auth.cli import create_user

    settings = _settings(options)
    password = _password()
    click.echo(_with_store(settings, lambda store: create_user(store, tenant_name, name, role, password)))


@user.command("list")
@click.option("--tenant", "tenant_name", default="default", show_default=True)
@_setting_options
def user_list(tenant_name: str, **options: Any) -> None:
    """List a tenant's accounts (never their passwords)."""
    from quartier.auth.cli import list_users

    settings = _settings(options)
    for line in _with_store(settings, lambda store: list_users(store, tenant_name)):
        click.echo(line)


@user.command("disable")
@click.argument("name")
@click.option("--tenant", "tenant_name", default="default", show_default=True)
@_setting_options
def user_disable(name: str, tenant_name: str, **options: Any) -> None:
    """Disable the account NAME: it may no longer log in, and its sessions end."""
    from quartier.auth.cli import change_user
    from quartier.auth.users import UserChange

    settings = _settings(options)
    click.echo(_with_store(settings, lambda store: change_user(store, tenant_name, name,
                                                               UserChange(disabled=True))))


@user.command("passwd")
@click.argument("name")
@click.option("--tenant", "tenant_name", default="default", show_default=True)
@_setting_options
def user_passwd(name: str, tenant_name: str, **options: Any) -> None:
    """Give the account NAME a new password; its sessions end."""
    from quartier.auth.cli import change_user
    from quartier.auth.users import UserChange

    settings = _settings(options)
    password = _password()
    click.echo(_with_store(settings, lambda store: change_user(store, tenant_name, name,
                                                               UserChange(password=password))))


@main.command("archive")
@click.option("--keep-days", type=int, default=None,
              help="Archive what is older than this many days (default: archive_after_days).")
@_setting_options
def archive_command(keep_days: int | None, **options: Any) -> None:
    """Pack older Observations into the compressed archive now (PostgreSQL).

    The server does this by itself every few minutes; this is for a first run after
    a bulk import, or for scripts."""
    from datetime import UTC, datetime, timedelta

    settings = _settings(options)
    days = settings.archive_after_days if keep_days is None else keep_days
    if days < 0:
        raise click.UsageError("--keep-days must be 0 or more")
    cutoff = datetime.now(UTC) - timedelta(days=days)
    moved = _with_store(settings, lambda store: store.archive(cutoff))
    if not settings.database:
        click.echo("the embedded SQLite database keeps every Observation as a row; "
                   "nothing to archive")
        return
    click.echo(f"archived {moved} Observations older than {cutoff:%Y-%m-%d %H:%M} UTC")


@main.group("import")
def import_group() -> None:
    """Import historic data."""


@import_group.command("csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--datastream", type=int, required=True, help="The Datastream's @iot.id.")
@click.option("--time-column", required=True, help="Header of the column with the times.")
@click.option("--value-column", required=True, help="Header of the column with the values.")
@click.option("--delimiter", default=",", show_default=True, help="Field separator, e.g. ';'.")
@click.option("--time-format", default="",
              help="strptime format of the times, e.g. '%d.%m.%Y %H:%M'; default ISO 8601.")
@click.option("--timezone", default="UTC", show_default=True,
              help="Zone of times that have no offset, e.g. Europe/Berlin.")
@click.option("--skip-bad-rows", is_flag=True, help="Write the good rows even if some are bad.")
@click.option("--tenant", default="default", show_default=True, help="The tenant's name.")
@_setting_options
def import_csv_command(file: str, datastream: int, time_column: str, value_column: str,
                       delimiter: str, time_format: str, timezone: str, skip_bad_rows: bool,
                       tenant: str, **options: Any) -> None:
    """Import FILE (CSV with a header line) as Observations of one Datastream.

    Every row is checked first: a bad row is reported with its line number, and then
    nothing is written unless --skip-bad-rows is given."""
    import io

    from quartier.errors import BadRequest
    from quartier.importer import CsvLayout, import_csv

    settings = _settings(options)
    layout = CsvLayout(time_column, value_column, delimiter, time_format, timezone)

    async def run(store: Any) -> Any:
        tenant_id = await _tenant_id(store, tenant)
        source = (io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
                  if file == "-" else open(file, encoding="utf-8-sig", newline=""))  # noqa: SIM115
        try:
            return await import_csv(store, tenant_id, datastream, source, layout, skip_bad_rows)
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{file} is not UTF-8 text (byte {exc.start} of a chunk)") from None
        finally:
            source.close()

    report = _with_store(settings, run)
    for line, message in report.bad:
        click.echo(f"{file}:{line}: {message}", err=True)
    if report.bad_count > len(report.bad):
        click.echo(f"... and {report.bad_count - len(report.bad)} more bad rows", err=True)
    if report.bad_count and not skip_bad_rows:
        click.echo(f"{report.bad_count} of {report.rows} rows are bad; nothing was written "
                   "(fix them, or give --skip-bad-rows)", err=True)
        sys.exit(1)
    click.echo(f"imported {report.written} Observations into Datastream {datastream}"
               + (f", skipped {report.bad_count} bad rows" if report.bad_count else ""))


@main.group()
def devices() -> None:
    """The LoRaWAN device registry."""


@devices.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--tenant", default="default", show_default=True, help="The tenant's name.")
@_setting_options
def devices_import(file: str, tenant: str, **options: Any) -> None:
    """Register the devices listed in FILE (CSV: devEui, name, profile, and optionally
    latitude, longitude, altitude, description; other columns become Thing properties).

    Each device gets its Thing and one Datastream per field of its profile. Every line
    is checked first: all devices are registered, or none."""
    from quartier.errors import Unprocessable
    from quartier.lorawan.devices import DeviceRegistry, read_csv

    settings = _settings(options)
    with (sys.stdin if file == "-" else open(file, encoding="utf-8-sig")) as source:
        text = source.read()

    async def run(store: Any) -> Any:
        tenant_id = await _tenant_id(store, tenant)
        return await DeviceRegistry(store).register(tenant_id, read_csv(text))

    try:
        registered = _with_store(settings, run, reraise=(Unprocessable,))
    except Unprocessable as exc:
        for error in exc.details.get("errors", []):
            click.echo(f"{file}:{error['line']}: {error['message']}", err=True)
        click.echo(f"quartier: {exc.message}", err=True)
        sys.exit(1)
    click.echo(f"registered {len(registered)} devices from {file}")


@main.group()
def package() -> None:
    """Use-case packages: export a use case to a file, import one from a file."""


@package.command("export")
@click.argument("name")
@click.option("--tenant", default="default", show_default=True, help="The tenant's name.")
@_setting_options
def package_export(name: str, tenant: str, **options: Any) -> None:
    """Print the package NAME (e.g. street-lighting, fleet) as the tenant has it now, as
    JSON; what could not be exported is listed on standard error."""
    import orjson

    from quartier.usecases.packages.export import export

    async def run(store: Any) -> Any:
        return await export(store, await _tenant_id(store, tenant), name)

    body = _with_store(_settings(options), run)
    for line in body.get("leftOut", []):
        click.echo(f"left out: {line}", err=True)
    click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())


@package.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--tenant", default="default", show_default=True, help="The tenant's name.")
@_setting_options
def package_import(file: str, tenant: str, **options: Any) -> None:
    """Install the package in FILE: all of it or nothing. What exists already is matched
    by name or definition, so importing again creates nothing new."""
    import orjson

    from quartier.errors import BadRequest
    from quartier.usecases.packages.format import parse_package
    from quartier.usecases.packages.install import install

    with (sys.stdin.buffer if file == "-" else open(file, "rb")) as source:
        data = source.read()

    async def run(store: Any) -> Any:
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"{file} is not JSON: {exc}") from None
        return await install(store, await _tenant_id(store, tenant), parse_package(body))

    report = _with_store(_settings(options), run)
    for kind in ("created", "updated", "skipped"):
        for line in report[kind]:
            click.echo(f"{kind}: {line}")
    click.echo(f"installed {report['package']} {report['version']}")


@main.group()
def lorawan() -> None:
    """LoRaWAN network-server integrations (The Things Stack, ChirpStack)."""


@lorawan.command("integration")
@click.argument("name")
@click.option("--network", type=click.Choice(["tts", "chirpstack"]), required=True)
@click.option("--mqtt-topic", default=None,
              help="Receive uplinks by MQTT on this topic filter (default: by webhook only).")
@click.option("--mqtt-url", default=None,
              help="The network server's broker, e.g. mqtt://app@ttn:KEY@host:1883 "
                   "(default: the platform's broker).")
@click.option("--tenant", default="default", show_default=True, help="The tenant's name.")
@_setting_options
def lorawan_integration(name: str, network: str, mqtt_topic: str | None, mqtt_url: str | None,
                        tenant: str, **options: Any) -> None:
    """Add an integration NAME and print its webhook secret (shown only this once)."""
    from quartier.lorawan import integrations

    settings = _settings(options)
    body: dict[str, Any] = {"name": name, "network": network}
    if mqtt_topic or mqtt_url:
        body["mqtt"] = {k: v for k, v in (("topic", mqtt_topic), ("url", mqtt_url)) if v}

    async def run(store: Any) -> Any:
        tenant_id = await _tenant_id(store, tenant)
        return await integrations.create(store, tenant_id, body)

    integration, secret = _with_store(settings, run)
    prefix = "" if tenant == "default" else f"/t/{tenant}"
    click.echo(f"created {network} integration {integration.name}")
    click.echo(f"webhook: POST {prefix}/api/lorawan/{integration.name}/uplink")
    click.echo(f"header:  Authorization: Bearer {secret}")


def _town_options(days: float) -> Any:
    """The options ``demo`` and ``simulate`` share: the town, history, pace and start."""
    options = [
        click.option("--town", "town_file", type=click.Path(exists=True, dir_okay=False),
                     default=None, help="A town file (TOML) instead of the built-in Lindbrück."),
        click.option("--days", type=click.FloatRange(0, 366), default=days, show_default=True,
                     help="Days of history to backfill first, on the bulk path."),
        click.option("--speed", type=click.FloatRange(0.01, 100_000), default=1.0,
                     show_default=True,
                     help="How many times faster than real time the town lives (1440: a day "
                          "a minute)."),
        click.option("--start", default=None,
                     help="The simulated 'now', e.g. 2026-12-01T10:00:00Z (default: the real "
                          "now, to the minute). The same start gives the same data."),
    ]

    def wrap(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return wrap


@main.command()
@_town_options(days=30.0)
@click.option("--keep", is_flag=True,
              help="Keep the demo database of an earlier run (default: start afresh).")
@_setting_options
def demo(town_file: str | None, days: float, speed: float, start: str | None, keep: bool,
         **options: Any) -> None:
    """Start Quartier with the demo town: create it, backfill its history, then stream live
    data through SensorThings HTTP, MQTT (with --mqtt) and LoRaWAN webhooks.

    Runs on the embedded SQLite backend in the folder quartier-demo unless --data-dir says
    otherwise. To drive a PostgreSQL-backed Quartier, use `quartier simulate`."""
    import os

    if options.get("data_dir") is None and not os.environ.get(Settings.env_name("data_dir")):
        options["data_dir"] = "quartier-demo"
    settings = _settings(options)
    if settings.database:
        raise click.UsageError("quartier demo runs on the embedded SQLite backend; for PostgreSQL "
                               "start `quartier serve --database ...` and drive it with "
                               "`quartier simulate --target URL`")
    from quartier.demo.run import run_demo

    if not keep:
        for suffix in ("", "-wal", "-shm"):
            path = settings.sqlite_path.with_name(settings.sqlite_path.name + suffix)
            path.unlink(missing_ok=True)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _check_store(settings)
    _run_async(run_demo(settings, _town(town_file), _anchor(start), days, speed, click.echo))


@main.command()
@click.option("--target", required=True, help="The root URL of a running Quartier, e.g. http://127.0.0.1:8080.")
@click.option("--tenant", default="", help="Drive this tenant (/t/NAME) instead of the default one.")
@_town_options(days=0.0)
@click.option("--scale", type=click.IntRange(1, 4095), default=1, show_default=True,
              help="How many copies of the town to simulate, side by side (load tests).")
@click.option("--fast", is_flag=True, help="Send as fast as the target takes it (ignores --speed).")
@click.option("--duration", default=None,
              help="Stop after this much simulated time, e.g. 6h or 2d (default: run until stopped).")
@click.option("--mqtt", "mqtt_url", default=None,
              help="Publish the MQTT devices' messages to this broker (the target's); without "
                   "it they use HTTP.")
@click.option("--mqtt-prefix", default="", help="The target's topic prefix (its --mqtt-prefix).")
@click.option("--api-key", envvar="QUARTIER_API_KEY", default="",
              help="An editor or admin key of the tenant, which the simulator needs to create "
                   "the town (quartier key create); with an admin key it installs the street-"
                   "lighting and fleet packages too [env: QUARTIER_API_KEY].")
def simulate(target: str, tenant: str, town_file: str | None, days: float, speed: float,
             start: str | None, scale: int, fast: bool, duration: str | None,
             mqtt_url: str | None, mqtt_prefix: str, api_key: str) -> None:
    """Drive a running Quartier (SQLite or PostgreSQL) with the demo town, or many copies
    of it: creates what is missing through the API, then sends through the real roads in."""
    from quartier.demo.run import run_simulation
    from quartier.demo.town import duration as parse_duration

    seconds = None
    if duration is not None:
        try:
            seconds = parse_duration(duration)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--duration") from None
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _run_async(run_simulation(target, tenant, _town(town_file), _anchor(start), scale, days,
                              None if fast else speed, seconds, mqtt_url, mqtt_prefix, click.echo,
                              api_key))


def _town(path: str | None) -> Any:
    from quartier.demo.town import TownError, load_town

    try:
        return load_town(path)
    except TownError as exc:
        raise click.UsageError(exc.message) from None


def _anchor(start: str | None) -> float:
    import time

    if start is None:
        return time.time() // 60 * 60
    from quartier.model.times import parse_instant

    try:
        return parse_instant(start, "--start").timestamp()
    except QuartierError as exc:
        raise click.BadParameter(exc.message, param_hint="--start") from None


def _run_async(job: Any) -> None:
    import asyncio

    from quartier.demo.provision import ProvisionError

    try:
        asyncio.run(job)
    except KeyboardInterrupt:
        pass
    except (ProvisionError, QuartierError) as exc:
        click.echo(f"quartier: {exc}", err=True)
        sys.exit(2)


def _with_store(settings: Settings, action: Any, reraise: tuple[type[Exception], ...] = ()) -> Any:
    """Run ``action(store)`` on an opened store; report Quartier errors without a traceback
    (except those in ``reraise``, which the caller reports)."""
    import asyncio

    from quartier.store import open_store

    async def run() -> Any:
        store = open_store(settings)
        await store.open()
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except reraise:
        raise
    except QuartierError as exc:
        click.echo(f"quartier: {exc.message}", err=True)
        sys.exit(2)


async def _tenant_id(store: Any, tenant: str) -> int:
    """The id of the tenant named on the command line; a usage error when there is none."""
    tenant_id = await store.tenant_id(tenant)
    if tenant_id is None:
        raise click.UsageError(f"no tenant {tenant!r}")
    return int(tenant_id)


def _settings(options: dict[str, Any]) -> Settings:
    try:
        return Settings.from_env(**options)
    except QuartierError as exc:
        raise click.UsageError(exc.message) from None


# Seconds a stopping server waits for requests still running. Open dashboards hold a
# live stream (/api/live) that never ends by itself; without a limit they would keep the
# server from stopping.
GRACEFUL_SHUTDOWN = 30


def _run(settings: Settings) -> None:
    import uvicorn

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _check_store(settings)
    log.info("Quartier %s listening on http://%s:%d/v1.1", __version__, settings.host,
             settings.port)
    if settings.workers > 1:
        # Each worker builds its app from the same environment.
        import os

        for name, _opt, _default, _help in documented_settings():
            os.environ[Settings.env_name(name)] = str(getattr(settings, name))
        uvicorn.run(
            "quartier.app:app_from_env", factory=True, host=settings.host, port=settings.port,
            workers=settings.workers, log_level=settings.log_level, access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        )
        return
    from quartier.app import build_app

    uvicorn.run(build_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level, access_log=False,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN)


def _check_store(settings: Settings) -> None:
    """Open the store once before serving, so a bad database stops here with its message."""

    async def nothing(store: Any) -> None:
        return None

    _with_store(settings, nothing)
