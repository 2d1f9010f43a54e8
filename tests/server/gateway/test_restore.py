"""The server's version of its own document, as the next revision of a device's refused edit."""

from __future__ import annotations

from server.gateway.restore import restoring_revision, server_owned

SERVER = {"_id": "result:application:a", "_rev": "2-bbb", "status": "eligible"}


def edit(*ids: str, start: int = 3) -> dict[str, object]:
    return {
        "_id": "result:application:a",
        "_rev": f"{start}-{ids[0]}",
        "_revisions": {"start": start, "ids": list(ids)},
    }


def test_the_servers_content_follows_the_devices_revision_with_a_stable_id() -> None:
    revision = restoring_revision(edit("ccc", "bbb", "aaa"), SERVER)
    assert revision is not None
    assert revision["status"] == "eligible" and revision["_rev"].startswith("4-")
    assert revision["_revisions"] == {"start": 4, "ids": [revision["_rev"][2:], "ccc", "bbb", "aaa"]}
    assert restoring_revision(edit("ccc", "bbb", "aaa"), SERVER) == revision  # the same batch again: the same write


def test_nothing_when_the_device_did_not_edit_the_servers_current_version() -> None:
    assert restoring_revision(edit("ccc", "xxx", "aaa"), SERVER) is None  # another branch: would split the server's
    assert restoring_revision(edit("bbb", start=2), SERVER) is None  # no history beyond its own revision
    assert restoring_revision(edit("ccc", "bbb"), {**SERVER, "_attachments": {}}) is None


def test_only_the_servers_own_types() -> None:
    assert server_owned("result:application:a") and server_owned("sync_issue:household:h")
    assert not server_owned("household:h") and not server_owned(None)
