"""``simpul``: the operators' command line. Every command is scriptable (no prompts)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from registries.cli import app as registries_app
from replication.localserver import PROJECT_ROOT
from simpul.settings import Settings

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from server.auth.models import Role

T = TypeVar("T")

app = typer.Typer(
    help="Simpul: sync server for PKH field agents.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
users_app = typer.Typer(help="Users and their assignments.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (print a table and the ratio against the direct path).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(bench_app, name="bench")
app.add_typer(registries_app, name="registries")
dead_letters_app = typer.Typer(
    help="Changes the worker gave up on after repeated failures: list them, ask for a re-queue.", no_args_is_help=True
)
app.add_typer(dead_letters_app, name="dead-letters")

console = Console(soft_wrap=True)  # URLs, paths and messages printed whole, never broken at the width


@contextmanager
def _operator_errors() -> Iterator[None]:
    """What an operator can fix is said in one line, not a traceback."""
    from replication.errors import CouchError

    try:
        yield
    except CouchError as exc:
        console.print(f"[red]CouchDB: {exc}[/] (is it running? SIMPUL_COUCHDB_URL unset means the local server)")
        raise typer.Exit(1) from None
    except (RuntimeError, TimeoutError, FileNotFoundError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per CouchDB request is noise


@app.command()
def run() -> None:
    """The main job: local CouchDB-compatible server (unless SIMPUL_COUCHDB_URL is set), provisioning, demo
    users (development), the server. Ctrl-C stops everything."""
    from simpul import runner

    _logging()
    with _operator_errors():
        runner.run(Settings())


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Overrides SIMPUL_HTTP_PORT")] = None,
    host: Annotated[str | None, typer.Option(help="Overrides SIMPUL_HTTP_HOST")] = None,
) -> None:
    """Only the HTTP server, against the configured CouchDB and relational store (production, tests)."""
    from simpul import runner

    _logging()
    settings = Settings()
    if port is not None:
        settings.http_port = port
    if host is not None:
        settings.http_host = host
    asyncio.run(runner.prepare_database(settings, seed_demo=False))
    runner.serve(settings)


@app.command()
def worker() -> None:
    """The worker on its own: follows every desa database, verifies applications, pushes results down.
    SIGTERM or Ctrl-C: finishes what is in flight, saves checkpoints, exits."""
    import signal

    from simpul.worker import run_worker

    _logging()
    settings = Settings()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(settings, stop)

    with _operator_errors():
        asyncio.run(main())


@dead_letters_app.command("list")
def dead_letters_list(
    db: Annotated[str | None, typer.Option(help="Only this database, e.g. desa_3510161014")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Also those already re-queued")] = False,
) -> None:
    """Parked changes: id, database, document, handler, attempts, the last error."""
    from rich.table import Table

    from simpul.db import make_async_engine
    from simpul.schema import create_tables
    from sync.deadletters import list_dead_letters
    from sync.uow import UnitOfWork

    settings = Settings()

    async def fetch() -> list[Any]:
        engine = make_async_engine(settings.resolved_database_url)
        try:
            await create_tables(engine)
            return await list_dead_letters(UnitOfWork(engine), db=db, include_requeued=all_)
        finally:
            await engine.dispose()

    letters = asyncio.run(fetch())
    table = Table("id", "database", "document", "handler", "attempts", "parked at", "state", "last error")
    for letter in letters:
        state = "re-queued" if letter.requeued_at else "re-queue requested" if letter.requeue_requested_at else "parked"
        table.add_row(
            str(letter.id),
            letter.db_name,
            letter.doc_id,
            letter.handler,
            str(letter.attempts),
            letter.parked_at.isoformat(timespec="seconds"),
            state,
            letter.error.splitlines()[0][:120] if letter.error else "",
        )
    console.print(table if letters else "no dead letters")


@dead_letters_app.command("requeue")
def dead_letters_requeue(
    ids: Annotated[list[int], typer.Argument(help="Dead letter ids (from `simpul dead-letters list`)")],
) -> None:
    """Ask the running worker to deliver these changes again (it does within seconds, and records the outcome)."""
    import getpass

    from simpul.db import make_async_engine
    from simpul.schema import create_tables
    from sync.deadletters import DeadLetterNotFound, FailureStore
    from sync.uow import UnitOfWork

    settings = Settings()

    async def request() -> None:
        engine = make_async_engine(settings.resolved_database_url)
        try:
            await create_tables(engine)
            async with UnitOfWork(engine).begin() as session:
                for letter_id in ids:
                    await FailureStore(session).request_requeue(letter_id, f"cli:{getpass.getuser()}")
        finally:
            await engine.dispose()

    try:
        asyncio.run(request())
    except DeadLetterNotFound as exc:
        console.print(f"[red]{exc}[/] (nothing was requested)")
        raise typer.Exit(1) from None
    console.print(f"re-queue requested for {', '.join(map(str, ids))}; the worker delivers them within seconds")


@app.command()
def provision() -> None:
    """Create the desa databases and their security objects; a second run changes nothing and says so.
    Without SIMPUL_COUCHDB_URL the local CouchDB-compatible server is started for the while, or the one a running
    `simpul run` started is used."""
    from simpul import runner

    settings = Settings()
    with _operator_errors():
        local = None
        if not settings.couchdb_url and runner.local_couch_running(settings):
            console.print(
                f"using the local CouchDB-compatible server already running on {settings.resolved_couchdb_url}"
            )
        else:
            local = runner.start_local_couch(settings)
        try:
            asyncio.run(runner.provision(settings, console))
        finally:
            if local:
                local.stop()


def _in_store(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction of the configured relational store (created and migrated if new); a domain
    error is said in one line and exits 1."""
    from sqlmodel.ext.asyncio.session import AsyncSession

    from server.core.errors import SimpulError
    from simpul import runner
    from simpul.db import make_async_engine

    settings = Settings()

    async def main() -> T:
        await runner.prepare_database(settings, seed_demo=False)
        engine = make_async_engine(settings.resolved_database_url)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:  # results are read afterwards
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except SimpulError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None


def _role(value: str) -> Role:
    from server.auth.models import Role

    try:
        return Role(value)
    except ValueError:
        console.print(f"[red]unknown role {value!r}[/]: pendamping, supervisor, verifier or admin")
        raise typer.Exit(2) from None


DesaOption = Annotated[list[str] | None, typer.Option(help="Desa code (repeat), for a pendamping")]
KecamatanOption = Annotated[list[str] | None, typer.Option(help="Kecamatan code (repeat), for a supervisor")]


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="pendamping | supervisor | verifier | admin")],
    desa: DesaOption = None,
    kecamatan: KecamatanOption = None,
    full_name: Annotated[str, typer.Option()] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Add a user. The password is read from standard input (never from the command line)."""
    from server.auth import service

    if not password_stdin:
        console.print("[red]give the password on standard input with --password-stdin[/]")
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\r\n")
    role_value = _role(role)

    async def add(session: AsyncSession) -> None:
        await service.create_user(
            session,
            username=username,
            password=password,
            role=role_value,
            desa=desa or [],
            kecamatan=kecamatan or [],
            full_name=full_name,
        )

    _in_store(add)
    console.print(f"user [bold]{username}[/] added ({role_value.value})")


@users_app.command("list")
def users_list() -> None:
    """Every user: role, whether active, assigned desa or kecamatan."""
    from rich.table import Table

    from server.auth import service

    users = _in_store(service.list_users)
    table = Table("username", "role", "active", "assigned", "full name")
    for user, regions in users:
        table.add_row(user.username, user.role.value, "yes" if user.active else "no", " ".join(regions), user.full_name)
    console.print(table if users else "no users")


@users_app.command("assign")
def users_assign(
    username: Annotated[str, typer.Option()],
    desa: DesaOption = None,
    kecamatan: KecamatanOption = None,
) -> None:
    """Replace a pendamping's desa or a supervisor's kecamatan. Takes effect on their next request (a device loses
    a desa it no longer holds at once, not when its token expires)."""
    from server.auth import service

    async def assign(session: AsyncSession) -> list[str]:
        return await service.reassign(session, username, desa=desa or [], kecamatan=kecamatan or [])

    codes = _in_store(assign)
    console.print(f"[bold]{username}[/] now assigned to {', '.join(codes)}")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Option()]) -> None:
    """Disable an account: its logins are refused and every device of it stops on its next request."""
    from server.auth import service

    async def disable(session: AsyncSession) -> int:
        return await service.set_active(session, username, active=False)

    revoked = _in_store(disable)
    console.print(f"[bold]{username}[/] disabled; {revoked} device token(s) revoked")


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Option()]) -> None:
    """Enable a disabled account again (its devices log in anew)."""
    from server.auth import service

    async def enable(session: AsyncSession) -> int:
        return await service.set_active(session, username, active=True)

    _in_store(enable)
    console.print(f"[bold]{username}[/] enabled")


@bench_app.command("sync")
def bench_sync(
    docs: Annotated[int, typer.Option(help="Documents per run")] = 10_000,
    rounds: Annotated[int, typer.Option(help="Alternating rounds per side")] = 2,
    batch_size: Annotated[int, typer.Option()] = 100,
    couchdb_url: Annotated[
        str | None,
        typer.Option(help="A running scratch CouchDB (e.g. Apache CouchDB 3, admin in the URL) instead of a local one"),
    ] = None,
) -> None:
    """Push and pull with a real PouchDB device through the gateway and directly, alternating; docs/s and ratio."""
    # Benchmarks run from a checkout: they drive the reference PouchDB device of tests/devices with node_modules.
    sys.path.insert(0, str(PROJECT_ROOT))
    from bench.sync import main as bench_main

    with _operator_errors():
        bench_main(docs=docs, rounds=rounds, batch_size=batch_size, console=console, couchdb_url=couchdb_url)


@bench_app.command("pipeline")
def bench_pipeline(
    households: Annotated[int, typer.Option(help="Registries' scale (full Banyuwangi); cached per seed")] = 560_000,
    applications: Annotated[int, typer.Option(help="Applications through the pipeline")] = 1000,
    latency_samples: Annotated[int, typer.Option(help="Applications pushed one at a time by a device")] = 50,
    seed: Annotated[int, typer.Option()] = 1,
    markdown: Annotated[bool, typer.Option(help="Also print the table as Markdown")] = False,
) -> None:
    """Applications/s through the whole pipeline against raw result writes to the same server (ratio), and the
    latency from a device's push to its result on the device, through the gateway."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from bench.pipeline import main as bench_main

    with _operator_errors():
        bench_main(
            households=households,
            seed=seed,
            applications=applications,
            latency_samples=latency_samples,
            console=console,
            markdown=markdown,
        )


if __name__ == "__main__":
    app()
