"""Who may see and act on which case.

- a **supervisor** sees and reviews the cases of the regions assigned to them (kecamatan, or a kabupaten): a desa is
  theirs when its dotted code starts with an assigned code;
- an **admin** sees and reviews every case;
- the **central verifier** reads finalised cases (``eligible`` / ``not_eligible``) of the whole region, photos on
  request, the case link of its decision feed, and acts on nothing;
- a pendamping works from the device and has no access here.

Assignments are read from the relational store on every request, so a changed assignment takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth import service as auth
from server.auth.models import Role, User
from server.core.errors import Forbidden

REVIEWER_ROLES = (Role.supervisor, Role.admin)
READER_ROLES = (Role.supervisor, Role.admin, Role.verifier)
FINAL_STATUSES = frozenset({"eligible", "not_eligible"})


@dataclass(frozen=True, slots=True)
class Reviewer:
    user: User
    #: Dotted region codes; empty for the roles that cover the whole region.
    regions: tuple[str, ...]

    @property
    def whole_region(self) -> bool:
        return self.user.role in (Role.admin, Role.verifier)

    @property
    def may_act(self) -> bool:
        return self.user.role in REVIEWER_ROLES

    def covers(self, desa: str) -> bool:
        if self.whole_region:
            return True
        return any(desa == region or desa.startswith(region + ".") for region in self.regions)

    def check_read(self, desa: str, status: str) -> None:
        if not self.covers(desa):
            raise Forbidden("Kasus ini di luar wilayah tugas Anda")
        if self.user.role is Role.verifier and status not in FINAL_STATUSES:
            raise Forbidden("Verifikator pusat hanya dapat melihat kasus yang sudah final")

    def check_act(self, desa: str) -> None:
        if not self.may_act:
            raise Forbidden("Hanya supervisor atau admin yang dapat meninjau kasus")
        if not self.covers(desa):
            raise Forbidden("Kasus ini di luar wilayah tugas Anda")


async def reviewer_of(session: AsyncSession, user: User, roles: tuple[Role, ...] = REVIEWER_ROLES) -> Reviewer:
    """The user as a reviewer, or Forbidden when their role has no place here."""
    if user.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(role.value for role in roles)}")
    assert user.id is not None
    regions = () if user.role in (Role.admin, Role.verifier) else tuple(await auth.assigned_regions(session, user.id))
    return Reviewer(user, regions)
