"""Demo users for development (``make run``): never created outside the development environment."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth import service
from server.auth.models import Role, User

DEMO_PASSWORD = "simpul-demo"  # development only: the environment check below keeps it out of production


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    full_name: str
    desa: tuple[str, ...] = ()
    kecamatan: tuple[str, ...] = ()


DEMO_USERS = (
    DemoUser("pendamping.lateng", Role.pendamping, "Siti Rahayu", desa=("35.10.16.1014",)),
    DemoUser("pendamping.kemiren", Role.pendamping, "Agus Wibowo", desa=("35.10.15.2004",)),
    DemoUser("pendamping.dua", Role.pendamping, "Dewi Lestari", desa=("35.10.16.1014", "35.10.15.2004")),
    DemoUser("koordinator", Role.supervisor, "Bambang Hartono", kecamatan=("35.10.16", "35.10.15")),
    DemoUser("verifikator", Role.verifier, "Rina Kusuma"),
    DemoUser("admin", Role.admin, "Admin Simpul"),
)


async def seed_demo_users(engine: AsyncEngine) -> list[str]:
    """Create the demo users that do not exist yet; returns the usernames created."""
    created = []
    async with AsyncSession(engine, expire_on_commit=False) as session:
        for demo in DEMO_USERS:
            if (await session.exec(select(User).where(User.username == demo.username))).first():
                continue
            await service.create_user(
                session,
                username=demo.username,
                password=DEMO_PASSWORD,
                role=demo.role,
                desa=demo.desa,
                kecamatan=demo.kecamatan,
                full_name=demo.full_name,
            )
            created.append(demo.username)
        await session.commit()
    return created
