"""Every setting, declared once: name, default, help and its ``QUARTIER_*`` variable.

The CLI builds its options from this table, the docs test checks that each one is
documented, and :func:`Settings.from_env` reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from quartier.errors import QuartierError, SettingsError


def _meta(help_text: str, cli: str | None = None) -> dict[str, Any]:
    return {"help": help_text, "cli": cli}


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one Quartier instance."""

    host: str = field(default="127.0.0.1", metadata=_meta("Address to listen on.", "--host"))
    port: int = field(default=8080, metadata=_meta("TCP port to listen on.", "--port"))
    data_dir: Path = field(
        default=Path("quartier-data"),
        metadata=_meta("Folder for the embedded SQLite database and local state.", "--data-dir"),
    )
    database: str = field(
        default="",
        metadata=_meta(
            "Database URL: postgresql://user@host/db for PostgreSQL with PostGIS; "
            "empty for the embedded SQLite file in the data folder.",
            "--database",
        ),
    )
    workers: int = field(
        default=1, metadata=_meta("Number of API worker processes.", "--workers")
    )
    base_url: str = field(
        default="",
        metadata=_meta(
            "Public base URL used in self links (e.g. https://data.example.de); "
            "empty: taken from each request.",
            "--base-url",
        ),
    )
    default_top: int = field(
        default=100, metadata=_meta("Page size when a request gives no $top.", "--default-top")
    )
    max_top: int = field(
        default=10000, metadata=_meta("Largest page size a client may ask for.", "--max-top")
    )
    max_expand_depth: int = field(
        default=5, metadata=_meta("Deepest nesting of $expand a request may use.", "--max-expand-depth")
    )
    max_filter_length: int = field(
        default=8000,
        metadata=_meta("Longest $filter (and $orderby) text in characters.", "--max-filter-length"),
    )
    max_expanded_entities: int = field(
        default=200_000,
        metadata=_meta(
            "Most related entities one $expand level may read (parents x ($top + 1)).",
            "--max-expanded-entities",
        ),
    )
    exact_count_limit: int = field(
        default=100_000,
        metadata=_meta(
            "@iot.count is exact up to this many entities; above it PostgreSQL gives the "
            "planner's estimate (never less than this limit).",
            "--exact-count-limit",
        ),
    )
    max_batch_requests: int = field(
        default=1000, metadata=_meta("Most requests one $batch may carry.", "--max-batch-requests")
    )
    max_body_bytes: int = field(
        default=16 * 1024 * 1024,
        metadata=_meta("Largest accepted request body in bytes.", "--max-body-bytes"),
    )
    max_filter_nodes: int = field(
        default=500,
        metadata=_meta("Most operators, functions, properties and literals one $filter (or "
                       "$orderby) expression may hold.", "--max-filter-nodes"),
    )
    request_timeout: int = field(
        default=30,
        metadata=_meta(
            "Seconds a read (GET, HEAD) may take until its answer starts; a slower one is "
            "cancelled, on PostgreSQL in the database too (statement_timeout), and answered "
            "503. Writes are never cut off. 0: no limit.",
            "--request-timeout",
        ),
    )
    rate_limit_address: int = field(
        default=0,
        metadata=_meta("Requests per second one client address may make on average (token "
                       "bucket per worker process); more get 429. 0: no limit.",
                       "--rate-limit-address"),
    )
    rate_burst_address: int = field(
        default=100,
        metadata=_meta("Requests one client address may make at once above its rate.",
                       "--rate-burst-address"),
    )
    rate_limit_key: int = field(
        default=0,
        metadata=_meta("Requests per second one API key (Authorization: Bearer or X-API-Key) "
                       "may make on average; more get 429. 0: no limit.", "--rate-limit-key"),
    )
    rate_burst_key: int = field(
        default=200,
        metadata=_meta("Requests one API key may make at once above its rate.",
                       "--rate-burst-key"),
    )
    rate_limit_principal: int = field(
        default=0,
        metadata=_meta("Requests per second one authenticated principal (an API key's id, "
                       "whatever proved it) may make on average, counted after the key is "
                       "checked; more get 429. 0: no limit.", "--rate-limit-principal"),
    )
    rate_burst_principal: int = field(
        default=200,
        metadata=_meta("Requests one principal may make at once above its rate.",
                       "--rate-burst-principal"),
    )
    rate_limit_ingest: int = field(
        default=0,
        metadata=_meta(
            "Requests per second per address and per key on the device ingest paths (LoRaWAN "
            "webhooks, CreateObservations), counted apart from other requests; 0: the ingest "
            "paths are not rate-limited.",
            "--rate-limit-ingest",
        ),
    )
    rate_burst_ingest: int = field(
        default=5000,
        metadata=_meta("Requests at once above the ingest rate.", "--rate-burst-ingest"),
    )
    cors_origins: str = field(
        default="",
        metadata=_meta("Origins (separated by spaces, or *) whose web pages may call the API "
                       "from the browser (CORS); empty: none but the dashboard's own.",
                       "--cors-origins"),
    )
    cors_methods: str = field(
        default="GET HEAD POST PATCH PUT DELETE",
        metadata=_meta("HTTP methods allowed to those origins.", "--cors-methods"),
    )
    cors_headers: str = field(
        default="Authorization Content-Type X-API-Key",
        metadata=_meta("Request headers allowed to those origins.", "--cors-headers"),
    )
    cors_credentials: int = field(
        default=0,
        metadata=_meta("1: those origins may send cookies and HTTP authentication "
                       "(not with *); 0: not.", "--cors-credentials"),
    )
    security_headers: int = field(
        default=1,
        metadata=_meta("1: send Content-Security-Policy, X-Content-Type-Options, "
                       "Referrer-Policy and X-Frame-Options on every answer; 0: none of them "
                       "(e.g. when a proxy sets them).", "--security-headers"),
    )
    content_security_policy: str = field(
        default="",
        metadata=_meta("Content-Security-Policy to send; empty: the dashboard's own (scripts, "
                       "styles and data from this server only, map tiles from --map-tiles).",
                       "--content-security-policy"),
    )
    frame_ancestors: str = field(
        default="'none'",
        metadata=_meta("Pages that may show Quartier in a frame (CSP frame-ancestors): "
                       "'none', 'self' or origins separated by spaces.", "--frame-ancestors"),
    )
    referrer_policy: str = field(
        default="strict-origin-when-cross-origin",
        metadata=_meta("Referrer-Policy header.", "--referrer-policy"),
    )
    hsts_seconds: int = field(
        default=0,
        metadata=_meta("Behind HTTPS: send Strict-Transport-Security with this max-age in "
                       "seconds; 0: not sent (plain HTTP).", "--hsts-seconds"),
    )
    session_idle_minutes: int = field(
        default=30,
        metadata=_meta("A dashboard session ends after this many minutes without a request.",
                       "--session-idle-minutes"),
    )
    session_max_hours: int = field(
        default=12,
        metadata=_meta("A dashboard session ends this many hours after its login, however "
                       "busy it is.", "--session-max-hours"),
    )
    session_cookie_secure: int = field(
        default=0,
        metadata=_meta("1: the session cookie is marked Secure (sent over HTTPS only), as it "
                       "always is on a request that came over HTTPS; set it behind a proxy "
                       "that ends TLS.", "--session-cookie-secure"),
    )
    login_max_failures: int = field(
        default=5,
        metadata=_meta("Failed logins to one account, or from one address, that lock it out "
                       "for --login-lockout-minutes.", "--login-max-failures"),
    )
    login_lockout_minutes: int = field(
        default=15,
        metadata=_meta("How long failed logins count, and so how long a lock-out lasts.",
                       "--login-lockout-minutes"),
    )
    oidc_issuer: str = field(
        default="",
        metadata=_meta("OpenID Connect issuer whose signed bearer tokens (JWT, RS256 or ES256) "
                       "are accepted besides API keys, e.g. "
                       "https://login.example.de/realms/stadt; empty: none.", "--oidc-issuer"),
    )
    oidc_audience: str = field(
        default="",
        metadata=_meta("The audience (aud) a token must name to be accepted here; needed "
                       "with --oidc-issuer.", "--oidc-audience"),
    )
    oidc_jwks_url: str = field(
        default="",
        metadata=_meta("URL of the issuer's signing keys (JWKS); empty: its jwks_uri from "
                       "{issuer}/.well-known/openid-configuration.", "--oidc-jwks-url"),
    )
    oidc_role_claim: str = field(
        default="roles",
        metadata=_meta("The token claim holding the user's roles, a dotted path for nested "
                       "claims (Keycloak: realm_access.roles).", "--oidc-role-claim"),
    )
    oidc_roles: str = field(
        default="",
        metadata=_meta("Which claim values give which Quartier role, as value=role pairs "
                       "separated by spaces (e.g. 'stadt-admin=admin leitstelle=operator'); "
                       "empty: the values viewer, operator, editor and admin themselves. The "
                       "highest role given wins.", "--oidc-roles"),
    )
    oidc_tenant_claim: str = field(
        default="",
        metadata=_meta("The token claim (dotted path) naming the tenant(s) a token is for; "
                       "empty: every token is for the default tenant only.",
                       "--oidc-tenant-claim"),
    )
    oidc_tenants: str = field(
        default="",
        metadata=_meta("Which tenant claim values stand for which tenant, as value=tenant "
                       "pairs separated by spaces; empty: the value is the tenant's name.",
                       "--oidc-tenants"),
    )
    oidc_jwks_refetch_seconds: int = field(
        default=60,
        metadata=_meta("A token signed by a key (kid) not in the cached JWKS makes it be "
                       "fetched again, at most once in this many seconds.",
                       "--oidc-jwks-refetch-seconds"),
    )
    retention_every: int = field(
        default=3600,
        metadata=_meta("Seconds between runs of the retention job, which deletes the "
                       "Observations (and vehicle tracks) older than their Datastream's "
                       "retention; 0: the job does not run.", "--retention-every"),
    )
    archive_after_days: int = field(
        default=7,
        metadata=_meta(
            "PostgreSQL: Observations whose phenomenonTime is older than this many days are "
            "packed into the compressed archive (the newest day of each Datastream stays "
            "as rows); 0 turns the archive job off.",
            "--archive-after-days",
        ),
    )
    mqtt: str = field(
        default="",
        metadata=_meta(
            "MQTT broker URL, e.g. mqtt://127.0.0.1:1883 (user:password@ allowed): changes "
            "are published there and Observations published there are created (SensorThings "
            "MQTT extension); empty: no MQTT.",
            "--mqtt",
        ),
    )
    mqtt_prefix: str = field(
        default="",
        metadata=_meta(
            "Text in front of every MQTT topic, e.g. 'city/' for city/v1.1/Observations; "
            "for a broker shared with other applications.",
            "--mqtt-prefix",
        ),
    )
    mqtt_internal_prefix: str = field(
        default="",
        metadata=_meta(
            "Topic part after --mqtt-prefix under which changes of internal Things and "
            "Datastreams (and their Observations) are published, e.g. 'internal/'; protect "
            "it with a broker ACL ('quartier mqtt acl'). Empty: internal changes are not "
            "published over MQTT at all. They are never published on the public topics.",
            "--mqtt-internal-prefix",
        ),
    )
    mqtt_client_id: str = field(
        default="quartier",
        metadata=_meta(
            "MQTT client id; the broker keeps this session's messages while Quartier is "
            "away. Several workers use it with -0, -1, ... appended.",
            "--mqtt-client-id",
        ),
    )
    mqtt_retain_latest: int = field(
        default=0,
        metadata=_meta(
            "1: publish each Datastream's latest Observation as a retained message on "
            "v1.1/Datastreams(id)/Observations, so that a new subscriber gets the current "
            "value at once; 0: no retained messages.",
            "--mqtt-retain-latest",
        ),
    )
    mqtt_announce_qos: int = field(
        default=1,
        metadata=_meta(
            "QoS of the messages that announce changes: 1 (the broker acknowledges each, "
            "and those it had not acknowledged are sent again after a reconnect) or 0 (one "
            "packet fewer per message for the broker and Quartier, about 10 % more MQTT "
            "ingest on a small machine; a subscriber then gets them at QoS 0, and its "
            "persistent session does not keep them while it is away).",
            "--mqtt-announce-qos",
        ),
    )
    mqtt_select_topics: str = field(
        default="",
        metadata=_meta(
            "$select topics to publish on always, separated by spaces, each with the prefix, "
            "e.g. 'v1.1/Datastreams(1)/Observations?$select=result,phenomenonTime': for "
            "brokers that do not publish their subscribe and unsubscribe log on "
            "$SYS/broker/log/M/... (Mosquitto: log_dest topic).",
            "--mqtt-select-topics",
        ),
    )
    max_import_bytes: int = field(
        default=512 * 1024 * 1024,
        metadata=_meta("Largest CSV file accepted by POST /api/imports/csv, in bytes.",
                       "--max-import-bytes"),
    )
    smtp_host: str = field(
        default="",
        metadata=_meta("SMTP server that e-mail notification channels send through; empty: "
                       "no e-mail channels.", "--smtp-host"),
    )
    smtp_port: int = field(default=25, metadata=_meta("Port of the SMTP server.", "--smtp-port"))
    smtp_from: str = field(
        default="quartier@localhost",
        metadata=_meta("Sender address of notification e-mails.", "--smtp-from"),
    )
    smtp_user: str = field(
        default="", metadata=_meta("SMTP user name; empty: no login.", "--smtp-user")
    )
    smtp_password: str = field(
        default="", metadata=_meta("SMTP password (with --smtp-user).", "--smtp-password")
    )
    smtp_tls: str = field(
        default="none",
        metadata=_meta("Encryption to the SMTP server: none, starttls or ssl.", "--smtp-tls"),
    )
    notify_retry_seconds: int = field(
        default=10,
        metadata=_meta("Wait before a failed notification is tried again; it doubles with each "
                       "further failure, up to an hour.", "--notify-retry-seconds"),
    )
    notify_max_attempts: int = field(
        default=12,
        metadata=_meta("Attempts at one notification before it is given up (it stays listed "
                       "as failed and can be retried through the API).", "--notify-max-attempts"),
    )
    task_confirm_seconds: int = field(
        default=900,
        metadata=_meta("How long a sent Task waits for its device to report the commanded "
                       "state before it is marked failed.", "--task-confirm-seconds"),
    )
    task_max_attempts: int = field(
        default=5,
        metadata=_meta("Attempts at sending one Task to its device (after a failure, "
                       "--notify-retry-seconds, doubling) before it is marked failed.",
                       "--task-max-attempts"),
    )
    map_tiles: str = field(
        default="",
        metadata=_meta(
            "Tile server of the dashboard's map, a URL template such as "
            "https://tiles.example.de/{z}/{x}/{y}.png; empty: no tiles, the map shows the "
            "town's base map from GET /api/basemap (districts, waters, streets).",
            "--map-tiles",
        ),
    )
    map_attribution: str = field(
        default="",
        metadata=_meta("Attribution the dashboard's map shows for the tile server, e.g. "
                       "'© OpenStreetMap contributors'.", "--map-attribution"),
    )
    log_level: str = field(
        default="info", metadata=_meta("Log level: debug, info, warning, error.", "--log-level")
    )

    @staticmethod
    def env_name(name: str) -> str:
        return "QUARTIER_" + name.upper()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``QUARTIER_*`` variables, then explicit overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(cls.env_name(f.name))
            if raw is not None and raw != "":
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.validated(values)

    @classmethod
    def validated(cls, values: Mapping[str, Any]) -> Settings:
        known = {f.name: f for f in fields(cls)}
        out: dict[str, Any] = {}
        for name, raw in values.items():
            if name not in known:
                raise SettingsError(f"unknown setting {name!r}")
            default = known[name].default
            out[name] = _coerce(name, raw, Path if isinstance(default, Path) else type(default))
        settings = replace(cls(), **out)
        settings.check()
        return settings

    def check(self) -> None:
        if not 0 < self.port < 65536:
            raise SettingsError(f"port must be between 1 and 65535, not {self.port}")
        if self.workers < 1:
            raise SettingsError("workers must be at least 1")
        if self.default_top < 1 or self.max_top < self.default_top:
            raise SettingsError("default_top must be at least 1 and no larger than max_top")
        for name in ("max_import_bytes", "max_expand_depth", "max_filter_length",
                     "exact_count_limit", "max_batch_requests", "max_expanded_entities",
                     "max_filter_nodes", "rate_burst_address", "rate_burst_key",
                     "rate_burst_ingest", "rate_burst_principal", "session_idle_minutes",
                     "session_max_hours", "login_max_failures", "login_lockout_minutes"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1")
        for name in ("request_timeout", "rate_limit_address", "rate_limit_key",
                     "rate_limit_principal", "rate_limit_ingest", "hsts_seconds", "retention_every",
                     "oidc_jwks_refetch_seconds"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must be 0 (off) or more")
        for name in ("cors_credentials", "security_headers", "session_cookie_secure"):
            if getattr(self, name) not in (0, 1):
                raise SettingsError(f"{name} must be 0 or 1")
        self._check_web_security()
        if self.archive_after_days < 0:
            raise SettingsError("archive_after_days must be 0 (off) or more")
        if self.database and not self.database.startswith(("postgresql://", "postgres://")):
            # Not echoed: the URL may hold a password.
            raise SettingsError("database must be a postgresql:// URL or empty for SQLite")
        if self.mqtt and not self.mqtt.startswith("mqtt://"):
            raise SettingsError("mqtt must be a URL like mqtt://127.0.0.1:1883")  # may hold a password
        if self.mqtt_prefix and (not self.mqtt_prefix.endswith("/")
                                 or any(c in self.mqtt_prefix for c in "#+$")):
            raise SettingsError(
                f"mqtt_prefix must end with '/' and hold no '#', '+' or '$', not {self.mqtt_prefix!r}"
            )
        if self.mqtt_internal_prefix and (
                not self.mqtt_internal_prefix.endswith("/")
                or any(c in self.mqtt_internal_prefix for c in "#+$")
                or self.mqtt_internal_prefix.startswith(("v1.", "t/"))):
            raise SettingsError(
                "mqtt_internal_prefix must end with '/', hold no '#', '+' or '$' and not start "
                f"with 'v1.' or 't/' (the public topics), not {self.mqtt_internal_prefix!r}")
        if self.mqtt_retain_latest not in (0, 1):
            raise SettingsError("mqtt_retain_latest must be 0 or 1")
        if self.mqtt_announce_qos not in (0, 1):
            raise SettingsError("mqtt_announce_qos must be 0 or 1")
        if not self.mqtt_client_id:
            raise SettingsError("mqtt_client_id must not be empty")
        if self.mqtt_select_topics:
            from quartier.mqtt.select import parse_select_topic

            for topic in self.mqtt_select_topics.split():
                try:
                    parse_select_topic(self.mqtt_prefix, topic)
                except QuartierError as exc:
                    raise SettingsError(
                        f"mqtt_select_topics: {topic!r} is not a $select topic: {exc.message}"
                    ) from None
        if not 0 < self.smtp_port < 65536:
            raise SettingsError(f"smtp_port must be between 1 and 65535, not {self.smtp_port}")
        if self.smtp_tls not in ("none", "starttls", "ssl"):
            raise SettingsError(f"smtp_tls must be none, starttls or ssl, not {self.smtp_tls!r}")
        if "@" not in self.smtp_from or any(c in self.smtp_from for c in "\r\n"):
            raise SettingsError(f"smtp_from must be an e-mail address, not {self.smtp_from!r}")
        if self.notify_retry_seconds < 1 or self.notify_max_attempts < 1:
            raise SettingsError("notify_retry_seconds and notify_max_attempts must be at least 1")
        if self.task_confirm_seconds < 1 or self.task_max_attempts < 1:
            raise SettingsError("task_confirm_seconds and task_max_attempts must be at least 1")
        if self.map_tiles and (not self.map_tiles.startswith(("http://", "https://", "/"))
                               or not all(p in self.map_tiles for p in ("{z}", "{x}", "{y}"))):
            raise SettingsError("map_tiles must be an http(s) URL template with {z}, {x} and {y}, "
                                f"not {self.map_tiles!r}")
        if self.oidc_issuer:
            from quartier.auth.oidc_config import OidcConfig

            OidcConfig.from_settings(self)  # raises SettingsError for what is amiss
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise SettingsError(f"log_level must be debug, info, warning or error, not {self.log_level!r}")

    def _check_web_security(self) -> None:
        origins = self.cors_origins.split()
        for origin in origins:
            if origin != "*" and (not origin.startswith(("http://", "https://"))
                                  or origin.count("/") != 2):
                raise SettingsError("cors_origins must be origins like https://app.example.de "
                                    f"(no path) or *, not {origin!r}")
        if self.cors_credentials and "*" in origins:
            raise SettingsError("cors_credentials needs named origins, not *")
        for name in ("content_security_policy", "frame_ancestors", "referrer_policy",
                     "cors_methods", "cors_headers"):
            if any(c in getattr(self, name) for c in "\r\n"):
                raise SettingsError(f"{name} must be one line")

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "quartier.sqlite3"


def _coerce(name: str, raw: Any, kind: type) -> Any:
    if isinstance(raw, kind):
        return raw
    try:
        if kind is int:
            return int(raw)
        if kind is Path:
            return Path(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name} must be a {kind.__name__}, not {raw!r}") from None


def documented_settings() -> list[tuple[str, str, Any, str]]:
    """(name, CLI option, default, help) for every setting, for the CLI and the docs."""
    return [
        (f.name, f.metadata["cli"], f.default, f.metadata["help"]) for f in fields(Settings)
    ]
