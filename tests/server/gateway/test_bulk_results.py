from server.gateway.service import _caught_up, _merge_bulk_results
from server.gateway.validation import Refusal

NO = Refusal("nope")


def test_without_new_edits_couchdb_lists_errors_only_and_refusals_follow():
    docs = [{"_id": "a"}, {"_id": "b"}]
    assert _merge_bulk_results(docs, [None, NO], [], new_edits=False) == [
        {"id": "b", "error": "forbidden", "reason": "nope"}
    ]


def test_with_new_edits_results_keep_the_documents_order():
    docs = [{"_id": "a"}, {"_id": "b"}, {"_id": "c"}]
    upstream = [{"ok": True, "id": "a", "rev": "1-x"}, {"ok": True, "id": "c", "rev": "1-y"}]
    merged = _merge_bulk_results(docs, [None, NO, None], upstream, new_edits=True)
    assert [m["id"] for m in merged] == ["a", "b", "c"]
    assert merged[1]["error"] == "forbidden"


def test_a_timed_out_long_poll_echoes_since_in_its_own_type():
    assert _caught_up("42") == {"results": [], "last_seq": 42}
    assert _caught_up("12-g1AAAA") == {"results": [], "last_seq": "12-g1AAAA"}
    assert _caught_up(None) == {"results": [], "last_seq": 0}
