"""Settings of the reference sources, nested in ``simpul.settings.Settings.registries``.

From the environment with the ``SIMPUL_REGISTRIES__`` prefix, e.g. ``SIMPUL_REGISTRIES__DTSEN_URL``,
``SIMPUL_REGISTRIES__DTSEN_CLIENT_SECRET``. The simulator accepts the client credentials it is configured
with, so one set of settings runs the adapters against it in development.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

#: The simulator's development secret; production refuses it.
DEV_CLIENT_SECRET = "simpul-dev-secret"


class RegistriesSettings(BaseModel):
    source: Literal["local", "http"] = Field(
        "local",
        description="Where the checks ask: 'local' reads the reference tables of the relational store (development, "
        "tests; `simpul registries generate` fills them), 'http' calls the sources' web services below.",
    )

    # --- Where the sources are ------------------------------------------------------------------------------
    dukcapil_url: str = Field(
        "http://127.0.0.1:8710/dukcapil", description="Population registry (Dukcapil) web service base URL."
    )
    dtsen_url: str = Field("http://127.0.0.1:8710/dtsen", description="DTSEN (BPS) base URL.")
    splp_url: str = Field("http://127.0.0.1:8710/splp", description="Ministries' data over SPLP base URL.")
    token_path: str = Field("/oauth2/token", description="OAuth2 token endpoint, relative to each source's base URL.")

    # --- OAuth2 client credentials, one client per source ---------------------------------------------------
    dukcapil_client_id: str = "simpul-dev"
    dukcapil_client_secret: SecretStr = SecretStr(DEV_CLIENT_SECRET)
    dtsen_client_id: str = "simpul-dev"
    dtsen_client_secret: SecretStr = SecretStr(DEV_CLIENT_SECRET)
    splp_client_id: str = "simpul-dev"
    splp_client_secret: SecretStr = SecretStr(DEV_CLIENT_SECRET)
    token_expiry_margin_s: float = Field(30.0, description="Renew a cached token this long before it expires.")

    # --- Timeouts, retries, circuit breaker -----------------------------------------------------------------
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    max_retries: int = Field(2, ge=0, description="Retries after the first attempt, on transient failures only.")
    backoff_base_s: float = Field(0.2, ge=0, description="First back-off; doubles each retry, with jitter.")
    backoff_max_s: float = Field(5.0, ge=0)
    breaker_failure_threshold: int = Field(5, ge=1, description="Consecutive failed calls that open the circuit.")
    breaker_reset_s: float = Field(30.0, ge=0, description="How long an open circuit refuses calls.")

    # --- Local store / simulator ----------------------------------------------------------------------------
    name_match_threshold: float = Field(
        90.0, ge=0, le=100, description="Similarity (0-100) above which a submitted name is 'match' (SESUAI)."
    )
    simulator_token_ttl_s: int = 3600
    demo_households: int = 20_000
