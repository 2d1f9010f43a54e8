"""Settings of the verification pipeline, nested in ``simpul.settings.Settings.pipeline``.

From the environment with the ``SIMPUL_PIPELINE__`` prefix, e.g. ``SIMPUL_PIPELINE__TASK_AFTER_S=86400``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class PipelineSettings(BaseModel):
    # --- Waiting ----------------------------------------------------------------------------------------------
    task_after_s: float = Field(
        72 * 3600.0,
        gt=0,
        description="A case still waiting for a document after this long gets a field-verification task, so the "
        "pendamping goes and captures what is missing (a case that needs a field visit gets its task at once).",
    )
    source_retry_s: float = Field(
        60.0, gt=0, description="First re-check of a case waiting for a registry that was down; doubles each time."
    )
    source_retry_max_s: float = Field(
        3600.0, gt=0, description="Longest wait between two re-checks of a case waiting for a registry."
    )
    failure_retry_max_s: float = Field(
        6 * 3600.0,
        gt=0,
        description="Longest wait before the sweeper tries again a case whose re-evaluation kept failing.",
    )

    # --- Background loops ---------------------------------------------------------------------------------------
    sweep_interval_s: float = Field(30.0, gt=0, description="How often cases due for a re-check are looked for.")
    sweep_batch: int = Field(200, ge=1, description="Cases re-evaluated at most per sweep (the oldest due first).")
    registry_poll_s: float = Field(300.0, gt=0, description="How often each registry's changes are read.")
    registry_page_size: int = Field(100, ge=1, le=1000, description="Registry changes asked for in one page.")
    stop_grace_s: float = Field(
        10.0,
        ge=0,
        description="On stop, how long a background loop may finish its current case before it is "
        "cancelled (safe: every step is idempotent).",
    )

    # --- Registry look-ups --------------------------------------------------------------------------------------
    lookup_concurrency: int = Field(
        8, ge=1, description="Registry questions of one case asked at once (each source also limits itself)."
    )

    def source_retry_delay(self, attempts: int) -> float:
        """Delay before the next re-check of a case that found a source down ``attempts`` times in a row."""
        return min(self.source_retry_max_s, self.source_retry_s * 2 ** min(max(attempts, 1) - 1, 30))

    def failure_delay(self, failures: int) -> float:
        """Delay before the sweeper retries a case whose re-evaluation failed ``failures`` times in a row."""
        return min(self.failure_retry_max_s, self.sweep_interval_s * 2 ** min(max(failures, 1) - 1, 30))
