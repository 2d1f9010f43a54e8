"""Retry back-off and a circuit breaker for the HTTP adapters; clock and randomness are injectable."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from enum import StrEnum

from registries.errors import CircuitOpen


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Exponential back-off with "equal jitter": half the step fixed, half random, so retries spread out."""
    step = min(max_s, base_s * 2 ** (attempt - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)


class BreakerState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failed calls; refuses calls for ``reset_s``; then lets
    one trial call through (half-open): its success closes the circuit, its failure opens it again."""

    def __init__(
        self, source: str, failure_threshold: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._source = source
        self._threshold = failure_threshold
        self._reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.closed
        if self._clock() - self._opened_at >= self._reset_s:
            return BreakerState.half_open
        return BreakerState.open

    def before_call(self) -> None:
        state = self.state
        if state is BreakerState.open:
            assert self._opened_at is not None
            remaining = self._reset_s - (self._clock() - self._opened_at)
            raise CircuitOpen(self._source, "circuit open after repeated failures", retry_after_s=max(0.0, remaining))
        if state is BreakerState.half_open:
            if self._trial_in_flight:
                raise CircuitOpen(self._source, "circuit half-open, a trial call is in flight", retry_after_s=1.0)
            self._trial_in_flight = True

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self._trial_in_flight = False
        self._failures += 1
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()
