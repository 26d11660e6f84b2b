"""The ``kameng`` command line."""

from __future__ import annotations

import asyncio
import sys

import click

from infra.risk_cli import risk
from infra.settings import get_settings, setting_names


def _settings_help() -> str:
    return "\b\n" + "\n".join(f"{name}={default!r}" for name, default in setting_names())


@click.group(epilog="Settings (environment variables):\n\n" + _settings_help())
def main() -> None:
    """卡盟治理中心 Kameng: run, migrate and seed the governance engine."""
    from infra.logs import configure_logging

    configure_logging(get_settings().log_format)


def _traced(name: str):
    """Telemetry for a one-shot command (OTEL_* as everywhere): its queries under one span."""
    from infra.telemetry import TRACER, configure_telemetry

    configure_telemetry(get_settings(), "kameng-cli")
    return TRACER.start_as_current_span(f"kameng {name}")


@main.command()
def migrate() -> None:
    """Apply database migrations (SQLite by default, PostgreSQL by KAMENG_DATABASE_URL)."""
    from infra.db.engine import describe, migrate as run_migrations

    with _traced("migrate"):
        asyncio.run(run_migrations())
    click.echo(f"migrated {describe(get_settings())}")


async def _seed() -> object:
    from infra.db.engine import bind_tables, close_pool, start_pool
    from infra.seed import seed as run_seed

    bind_tables()
    await start_pool()
    try:
        return await run_seed()
    finally:
        await close_pool()


@main.command()
def seed() -> None:
    """Load the demo platform (first run only: an existing platform is left as it is)."""
    summary = asyncio.run(_seed())
    state = "loaded" if summary.created else "already present"  # type: ignore[attr-defined]
    click.echo(f"demo platform {state}: {summary}")


@main.command()
def worker() -> None:
    """Run a Temporal worker for every registered process."""
    from infra.temporal.worker import run_worker

    try:
        asyncio.run(run_worker())
    except KeyboardInterrupt:
        pass


@main.command()
@click.option("--workers", type=int, default=None, help="Web processes (default KAMENG_WEB_WORKERS).")
def web(workers: int | None) -> None:
    """Serve the API and the console (granian; KAMENG_SERVER=uvicorn for uvicorn)."""
    settings = get_settings()
    count = workers or settings.web_workers
    if settings.server == "uvicorn":
        import uvicorn

        uvicorn.run("api.app:asgi_app", factory=True, host=settings.host, port=settings.port, workers=count, log_level="warning")
        return
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "api.app:asgi_app",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=count,
        log_access=False,
    ).serve()


@main.command()
@click.option("--no-seed", is_flag=True, help="Do not load the demo platform.")
def dev(no_seed: bool) -> None:
    """Migrate, seed on first run, and run Temporal, a worker and the web app together."""
    from infra.db.engine import migrate as run_migrations
    from infra.seed import DEMO_LOGINS
    from infra.supervisor import run_dev

    settings = get_settings()
    settings.var_path.mkdir(parents=True, exist_ok=True)
    asyncio.run(run_migrations())
    if not no_seed:
        summary = asyncio.run(_seed())
        click.echo("demo platform loaded" if summary.created else "demo platform kept")  # type: ignore[attr-defined]
    sys.exit(run_dev(settings, [(d.username, d.tier) for d in DEMO_LOGINS]))


@main.command("new-process")
@click.argument("name")
@click.option("--tier", default="regional", show_default=True, help="Tier that decides.")
@click.option("--permission", default="admins.review_request", show_default=True, help="Permission of the decision.")
@click.option("--start-permission", default="grants.request", show_default=True, help="Permission to start it.")
@click.option("--title-zh", default="新流程", show_default=True)
def new_process(name: str, tier: str, permission: str, start_permission: str, title_zh: str) -> None:
    """Scaffold workflows/NAME.py, its test, and its line in REGISTRY."""
    from pathlib import Path

    from infra.scaffold import ScaffoldError, scaffold

    try:
        made = scaffold(Path.cwd(), name, tier=tier, permission=permission, start_permission=start_permission, title_zh=title_zh)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {made.process}\ncreated {made.test}\nregistered in {made.registry}")
    click.echo("next: make record-histories after its tests pass, then commit (see docs/adding-a-process.md)")


@main.group()
def audit() -> None:
    """Inspect the audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain and name the first bad event."""
    from infra.db.audit import verify
    from infra.db.engine import bind_tables

    async def run():
        bind_tables()
        return await verify()

    with _traced("audit verify"):
        result = asyncio.run(run())
    click.echo(f"ok={result.ok} events={result.events} first_bad={result.first_bad} {result.problem or ''}")
    sys.exit(0 if result.ok else 1)


main.add_command(risk)

if __name__ == "__main__":
    main()
