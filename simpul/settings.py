"""The one configuration object of Simpul.

Built once at start-up (``Settings()``) and passed to whatever needs it; nothing reads the environment at import
time. Every field can be set from the environment with the ``SIMPUL_`` prefix or from a ``.env`` file.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from registries.config import DEV_CLIENT_SECRET, RegistriesSettings
from sync.cases.config import PipelineSettings
from sync.config import WorkerSettings
from sync.verification.ruleset import RuleSettings


class Environment(StrEnum):
    development = "development"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIMPUL_", env_file=".env", env_nested_delimiter="__", extra="ignore")

    environment: Environment = Environment.development
    data_dir: Path = Field(Path("var"), description="Where local state lives: SQLite file, local CouchDB data, keys.")

    # --- HTTP -----------------------------------------------------------------------------------------------
    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # --- CouchDB --------------------------------------------------------------------------------------------
    couchdb_url: str | None = Field(
        None,
        description="A running CouchDB (credentials in the URL). Unset: the local CouchDB-compatible server is used.",
    )
    local_couchdb_port: int = 5984
    couchdb_max_connections: int = 100

    # --- Relational store -----------------------------------------------------------------------------------
    database_url: str | None = Field(None, description="SQLAlchemy URL. Unset: SQLite file in data_dir.")

    # --- Tokens ---------------------------------------------------------------------------------------------
    jwt_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Signing keys by kid, e.g. {"2026-12": "..."}; unset in development: generated into data_dir.',
    )
    jwt_active_kid: str | None = None
    jwt_audience: str = "simpul"
    jwt_issuer: str = "simpul"
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600

    # --- Audit trail ----------------------------------------------------------------------------------------
    audit_key: SecretStr | None = Field(
        None,
        description="HMAC key of the people's references in the audit trail (server/audit/refs.py); "
        "unset in development: generated into data_dir.",
    )

    # --- Sync gateway ---------------------------------------------------------------------------------------
    # A real batch: 100 evidence documents with two photos of ~500 kB each, base64 inline, is ~140 MB.
    max_batch_bytes: int = 200 * 1024 * 1024
    # One document as sent (attachments inline, base64), and all its decoded attachments together.
    max_document_bytes: int = 16 * 1024 * 1024
    # Each image attachment: its decoded bytes, and its pixels (read from the header before any pixel is decoded).
    max_image_bytes: int = 8 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    # PouchDB's batches are 100 documents; far more is not a device, and each refusal becomes a synced document.
    max_batch_docs: int = 1000
    # A request body that stops arriving for this long is abandoned (a slow or stalled upload holds a connection).
    body_idle_timeout_s: float = 30.0
    # Long-polls are ended by the gateway before common proxy idle limits (60 s) cut them.
    longpoll_max_s: float = 50.0

    # --- Decision feed (the central verifier) ---------------------------------------------------------------
    # Decisions are served once older than this, so a decision committed late can never be skipped (see
    # server/feed/service.py).
    decision_feed_settle_s: float = Field(30.0, ge=0)

    # --- Reference sources (registries/) --------------------------------------------------------------------
    registries: RegistriesSettings = Field(default_factory=RegistriesSettings)

    # --- Changes-feed worker and the verification pipeline (sync/) ------------------------------------------
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    # The PKH rule set (a versioned data file) and the parameters DOMAIN.md leaves to settings.
    rules: RuleSettings = Field(default_factory=RuleSettings)

    @model_validator(mode="after")
    def _refuse_development_shortcuts_in_production(self) -> Self:
        if self.environment is Environment.production:
            missing = [
                name
                for name, value in (
                    ("SIMPUL_COUCHDB_URL", self.couchdb_url),
                    ("SIMPUL_DATABASE_URL", self.database_url),
                    ("SIMPUL_JWT_KEYS", self.jwt_keys),
                    ("SIMPUL_JWT_ACTIVE_KID", self.jwt_active_kid),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"production needs explicit settings: {', '.join(missing)}")
            registries = self.registries
            default_secrets = [
                f"SIMPUL_REGISTRIES__{name.upper()}_CLIENT_SECRET"
                for name, secret in (
                    ("dukcapil", registries.dukcapil_client_secret),
                    ("dtsen", registries.dtsen_client_secret),
                    ("splp", registries.splp_client_secret),
                )
                if secret.get_secret_value() == DEV_CLIENT_SECRET
            ]
            if registries.source == "http" and default_secrets:
                raise ValueError(f"production needs real client secrets: {', '.join(default_secrets)}")
            weak = [kid for kid, key in self.jwt_keys.items() if len(key.get_secret_value()) < 32]
            if weak:
                raise ValueError(f"JWT keys shorter than 32 characters: {', '.join(weak)}")
            if self.audit_key is None:
                raise ValueError("production needs explicit settings: SIMPUL_AUDIT_KEY")
            if len(self.audit_key.get_secret_value()) < 32:
                raise ValueError("SIMPUL_AUDIT_KEY is shorter than 32 characters")
        if self.jwt_active_kid and self.jwt_keys and self.jwt_active_kid not in self.jwt_keys:
            raise ValueError("SIMPUL_JWT_ACTIVE_KID names a key that SIMPUL_JWT_KEYS does not hold")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'simpul.db').resolve()}"

    @property
    def local_couchdb_dir(self) -> Path:
        return self.data_dir / "couchdb"

    @property
    def resolved_couchdb_url(self) -> str:
        return self.couchdb_url or f"http://127.0.0.1:{self.local_couchdb_port}"
