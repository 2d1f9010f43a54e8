"""Pure parts of the worker: pending seqs, back-off, changes, settings."""

from __future__ import annotations

import random

import pytest

from simpul.settings import Settings
from sync.checkpoints import PendingSeqs
from sync.config import WorkerSettings, backoff_delay
from sync.feed import Change, opaque_seq


def test_safe_seq_waits_for_the_oldest_unfinished_change() -> None:
    seqs = PendingSeqs("0")
    first, second, third = seqs.add("1"), seqs.add("2"), seqs.add("3")
    seqs.done(third)
    seqs.done(second)
    assert seqs.safe_seq == "0"
    assert len(seqs) == 1
    seqs.done(first)
    assert seqs.safe_seq == "3"
    assert len(seqs) == 0


def test_a_done_marker_moves_only_when_everything_before_it_is_done() -> None:
    seqs = PendingSeqs("7-abc")
    token = seqs.add("8-def")
    seqs.add("9-ghi", done=True)
    assert seqs.safe_seq == "7-abc"
    seqs.done(token)
    assert seqs.safe_seq == "9-ghi"
    seqs.add("10-jkl", done=True)
    assert seqs.safe_seq == "10-jkl"


def test_seqs_are_never_compared_only_ordered_by_arrival() -> None:
    seqs = PendingSeqs("0")
    # Opaque strings whose lexical order differs from feed order.
    tokens = [seqs.add(seq) for seq in ("9-z", "10-a", "11-b")]
    for token in tokens[:2]:
        seqs.done(token)
    assert seqs.safe_seq == "10-a"


def test_backoff_doubles_is_capped_and_jittered() -> None:
    rng = random.Random(4)
    for failures in range(1, 12):
        ceiling = min(60.0, 1.0 * 2 ** (failures - 1))
        delay = backoff_delay(failures, 1.0, 60.0, rng=rng)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(0, 1.0, 60.0) == 0.0
    assert backoff_delay(10_000, 1.0, 60.0) <= 60.0


def test_change_from_a_feed_row_keeps_seq_and_leaves() -> None:
    pouch = Change.from_row("desa_1", {"seq": 5, "id": "a/b", "changes": [{"rev": "2-x"}, {"rev": "1-y"}]})
    assert (pouch.seq, pouch.rev, pouch.revs, pouch.deleted) == ("5", "2-x", ("2-x", "1-y"), False)
    couch = Change.from_row("desa_1", {"seq": "12-g1AAAA", "id": "x", "changes": [{"rev": "3-z"}], "deleted": True})
    assert couch.seq == "12-g1AAAA"
    assert couch.deleted
    assert Change.from_json(couch.to_json()) == couch
    assert opaque_seq(["a", 1]) == '["a",1]'


def test_worker_settings_nest_in_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMPUL_WORKER__MAX_ATTEMPTS", "7")
    settings = Settings(_env_file=None)
    assert settings.worker.max_attempts == 7
    assert settings.worker.queue_size == WorkerSettings().queue_size
