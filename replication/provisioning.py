"""Provisioning as declarative specs applied idempotently.

``desired_state()`` says what must exist (one database per desa of the region file, each with its ``_security``);
``apply()`` compares with what CouchDB holds and changes only the difference, so a second run reports nothing to
do. On Apache CouchDB 3 the ``_security`` object keeps devices and other users out of the databases: only admins
and the server's own CouchDB identity are members. pouchdb-server (development only) stores ``_security`` but does
not enforce it; there the local server's loopback binding is what keeps others out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_forms import wilayah
from replication.couch import CouchClient
from replication.naming import desa_db_name


@dataclass(frozen=True)
class DatabaseSpec:
    name: str
    security: Mapping[str, Any] | None  # None: CouchDB's own (system databases)


# A single-node CouchDB 3 does not create its system databases by itself and logs errors until they exist.
SYSTEM_DATABASES = ("_users", "_replicator")


@dataclass
class ProvisioningReport:
    created: list[str] = field(default_factory=list)
    security_updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    system_created: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.security_updated or self.system_created)

    def summary(self) -> str:
        system = f"; system databases created: {', '.join(self.system_created)}" if self.system_created else ""
        if not self.changed:
            return f"nothing to do: {len(self.unchanged)} desa databases already as specified"
        return (
            f"{len(self.created)} desa databases created, {len(self.security_updated)} security objects updated, "
            f"{len(self.unchanged)} unchanged{system}"
        )


def security_for(server_user: str | None) -> dict[str, Any]:
    names = [server_user] if server_user else []
    return {
        "admins": {"names": [], "roles": ["_admin"]},
        "members": {"names": names, "roles": ["_admin"]},
    }


def desired_state(server_user: str | None) -> list[DatabaseSpec]:
    security = security_for(server_user)
    system = [DatabaseSpec(name, None) for name in SYSTEM_DATABASES]
    return system + [DatabaseSpec(desa_db_name(desa.code), security) for desa in wilayah.desa_list()]


async def apply(
    couch: CouchClient,
    specs: Iterable[DatabaseSpec],
    *,
    concurrency: int = 8,
    on_progress: Callable[[str], None] | None = None,
) -> ProvisioningReport:
    report = ProvisioningReport()
    limiter = asyncio.Semaphore(concurrency)

    async def one(spec: DatabaseSpec) -> None:
        async with limiter:
            created = await couch.create_database(spec.name)
            if spec.security is None:  # a system database: it only has to exist
                if created:
                    report.system_created.append(spec.name)
            elif await couch.get_security(spec.name) != dict(spec.security):
                await couch.put_security(spec.name, spec.security)
                (report.created if created else report.security_updated).append(spec.name)
            else:
                (report.created if created else report.unchanged).append(spec.name)
            if on_progress:
                on_progress(spec.name)

    await asyncio.gather(*(one(spec) for spec in specs))
    for names in (report.created, report.security_updated, report.unchanged):
        names.sort()
    return report
