import pytest

from server.core.errors import BadRequest
from server.gateway.paths import SyncPath, Target, parse


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/sync", SyncPath(Target.root)),
        ("/sync/", SyncPath(Target.root)),
        ("/sync/_all_dbs", SyncPath(Target.server_endpoint, endpoint="_all_dbs")),
        ("/sync/desa_3510161014", SyncPath(Target.database, db="desa_3510161014")),
        ("/sync/desa_3510161014/", SyncPath(Target.database, db="desa_3510161014")),
        ("/sync/d/_changes", SyncPath(Target.db_endpoint, db="d", endpoint="_changes")),
        ("/sync/d/a%2Fb", SyncPath(Target.document, db="d", doc_id="a/b")),
        ("/sync/d/..", SyncPath(Target.document, db="d", doc_id="..")),
        ("/sync/d/x%3Dy%2Bz", SyncPath(Target.document, db="d", doc_id="x=y+z")),
        ("/sync/d/x=y+z", SyncPath(Target.document, db="d", doc_id="x=y+z")),
        ("/sync/d/%C3%BC", SyncPath(Target.document, db="d", doc_id="ü")),
        ("/sync/d/_local/abc%2Fdef", SyncPath(Target.document, db="d", doc_id="_local/abc/def")),
        ("/sync/d/_design/x%2Fy", SyncPath(Target.document, db="d", doc_id="_design/x/y")),
        (
            "/sync/d/a%2Fb/dir%2Fn%20a.txt",
            SyncPath(Target.attachment, db="d", doc_id="a/b", attachment="dir/n a.txt"),
        ),
        ("/sync/d/a/dir/n.txt", SyncPath(Target.attachment, db="d", doc_id="a", attachment="dir/n.txt")),
    ],
)
def test_parse_routes_from_the_raw_path(raw: str, expected: SyncPath):
    assert parse(raw.encode()) == expected


@pytest.mark.parametrize("doc_id", ["a/b", "..", ".", "x=y+z", "ü/ö", "sp ace", "per%cent", "_local/a/b"])
def test_upstream_path_encodes_back_what_was_decoded(doc_id: str):
    path = SyncPath(Target.document, db="d", doc_id=doc_id).upstream_path()
    assert parse(b"/sync" + path.encode()).doc_id == doc_id


@pytest.mark.parametrize("raw", [b"/sync/d/_local/", b"/sync/d/_changes/extra", b"/sync/d/%FF", b"/other"])
def test_malformed_paths_are_bad_requests(raw: bytes):
    with pytest.raises(BadRequest):
        parse(raw)
