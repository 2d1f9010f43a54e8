import asyncio

import httpx
import pytest

from agent_forms import wilayah
from replication import provisioning
from replication.couch import CouchClient
from replication.localserver import LocalCouchServer
from replication.naming import desa_code_of_db, desa_db_name


def test_every_desa_of_the_region_file_gets_a_database_name():
    specs = [s for s in provisioning.desired_state("simpul") if s.name.startswith("desa_")]
    assert len(specs) == 217 == len(wilayah.desa_list())
    assert "desa_3510161014" in {s.name for s in specs}
    assert specs[0].security == {
        "admins": {"names": [], "roles": ["_admin"]},
        "members": {"names": ["simpul"], "roles": ["_admin"]},
    }


def test_database_names_round_trip_and_refuse_unknown_codes():
    assert desa_db_name("35.10.16.1014") == "desa_3510161014"
    assert desa_code_of_db("desa_3510161014") == "35.10.16.1014"
    assert desa_code_of_db("desa_9999999999") is None
    assert desa_code_of_db("desa_35101610") is None
    with pytest.raises(ValueError):
        desa_db_name("35.10")


@pytest.mark.live
def test_a_second_run_changes_nothing_and_says_so(couch_server: LocalCouchServer):
    async def apply_twice() -> tuple[provisioning.ProvisioningReport, provisioning.ProvisioningReport]:
        couch = CouchClient(couch_server.url)
        try:
            # Damage one security object: the next run mends exactly that one.
            await couch.put_security("desa_3510161014", {"members": {"names": ["intruder"]}})
            first = await provisioning.apply(couch, provisioning.desired_state(None))
            second = await provisioning.apply(couch, provisioning.desired_state(None))
            return first, second
        finally:
            await couch.aclose()

    first, second = asyncio.run(apply_twice())
    assert first.security_updated == ["desa_3510161014"] and not first.created
    assert not second.changed and len(second.unchanged) == 217
    assert "nothing to do" in second.summary()
    assert httpx.get(f"{couch_server.url}/desa_3510161014/_security").json()["members"]["names"] == []
