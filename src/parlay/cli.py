"""The ``parlay`` command: serve, worker, jobs, db upgrade, demo, user create."""

from __future__ import annotations

import asyncio
import gc

import typer
import uvicorn
from pydantic import ValidationError

from parlay.db.migrate import upgrade
from parlay.settings import Settings

app = typer.Typer(
    help="Parlay: meeting scheduling and video inside chat rooms.", no_args_is_help=True
)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")


def _settings_or_exit() -> Settings:
    """The settings, or a plain message and exit status 2 for a refused configuration."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = f"PARLAY_{str(error['loc'][0]).upper()}: " if error["loc"] else ""
            message = error["msg"].removeprefix("Value error, ")
            typer.echo(f"parlay: {where}{message}", err=True)
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations."""
    settings = Settings()
    upgrade(settings.resolved_database_url)
    typer.echo("database is up to date")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Migrate, then serve the web app and API."""
    _serve(host, port)


@app.command()
def dev(host: str = "127.0.0.1", port: int = 8000) -> None:
    """The demo with calendars: demo people, the Google and Microsoft emulators, the server."""
    from parlay.devrun import run

    run(host, port, _serve, typer.echo)


def _serve(host: str, port: int) -> None:
    from parlay.main import create_app
    from parlay.web.server import http_protocol, websocket_options

    # Without PARLAY_BASE_URL, join links and calendar files point at the address served here.
    settings = _settings_or_exit().for_listen_address(host, port)
    upgrade(settings.resolved_database_url)
    settings.resolved_secret_key()
    typer.echo(f"Parlay at http://{host}:{port}  (database: {settings.resolved_database_url})")
    typer.echo(f"Links in meetings and calendar files use {settings.base_url}")
    application = create_app(settings)
    # Everything alive now (modules, models, routes) lives as long as the process: keep it out
    # of the cyclic collector's full passes, which otherwise rescan it under load.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
        # Closes connections that dawdle over their request headers (slowloris).
        http=http_protocol(settings.header_timeout_seconds),
        **websocket_options(),
    )


@app.command()
def worker() -> None:
    """Run the outbox worker on its own (for deployments with several app nodes)."""
    import signal

    from parlay.container import Container

    settings = Settings()
    upgrade(settings.resolved_database_url)

    async def _run() -> None:
        container = Container.build(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)  # finish the job in hand, then exit
        try:
            await container.worker().run(stop)
        finally:
            await container.ctx.db.dispose()

    asyncio.run(_run())


@app.command()
def jobs(limit: int = typer.Option(20, help="How many dead jobs to list.")) -> None:
    """Outbox jobs for operators: counts by status, the oldest pending job's age, and the
    dead-lettered jobs with their last error (newest first)."""
    from parlay.db.session import Database
    from parlay.services import outbox

    settings = Settings()
    upgrade(settings.resolved_database_url)

    async def _read() -> tuple[outbox.OutboxStats, list[outbox.DeadJob]]:
        db = Database(settings.resolved_database_url)
        try:
            return await outbox.get_stats(db), await outbox.list_dead(db, limit)
        finally:
            await db.dispose()

    stats, dead = asyncio.run(_read())
    typer.echo("  ".join(f"{status} {n}" for status, n in stats.counts.items()))
    if stats.oldest_pending_seconds is not None:
        typer.echo(f"oldest pending job waiting {stats.oldest_pending_seconds:.0f}s")
    if dead:
        typer.echo(f"dead jobs (newest {len(dead)}):")
    for job in dead:
        error = (job.last_error or "").replace("\n", " ")
        typer.echo(
            f"  #{job.id} {job.kind} key={job.dedupe_key} attempts={job.attempts} "
            f"enqueued={job.created_at.isoformat()} last error: {error}"
        )


@app.command()
def demo() -> None:
    """Create the demo people (alice, bob, carol) and a room between alice and bob."""
    from parlay.demo import DEMO_PASSWORD, seed_demo

    settings = Settings()
    upgrade(settings.resolved_database_url)
    created = asyncio.run(seed_demo(settings))
    for email in created:
        typer.echo(f"  {email}  password: {DEMO_PASSWORD}")


@user_app.command("create")
def user_create(
    email: str,
    display_name: str = typer.Option(..., "--name"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    time_zone: str = "UTC",
) -> None:
    """Create a user account."""
    from parlay.demo import create_user

    settings = Settings()
    upgrade(settings.resolved_database_url)
    asyncio.run(create_user(settings, email, password, display_name, time_zone))
    typer.echo(f"created {email}")
