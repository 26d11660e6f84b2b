"""The ``kameng`` command line."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

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
    """The audit trail: verify, seal, forensic queries, case export (see docs/audit.md)."""


def _with_db(make):
    """Run ``make()``'s coroutine with the tables bound and the database pool open."""
    from infra.db.engine import bind_tables, close_pool, start_pool

    async def run():
        bind_tables()
        await start_pool()
        try:
            return await make()
        finally:
            await close_pool()

    return asyncio.run(run())


def _seal_line(sealed) -> str:
    return f"seal #{sealed.id} seq={sealed.seq} events={sealed.events} at={sealed.sealed_at.isoformat()} key={sealed.key_id} head={sealed.head_hash}"


@audit.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain, check every seal, and name the first bad event."""
    from infra.db.audit import verify

    with _traced("audit verify"):
        result = _with_db(verify)
    click.echo(
        f"ok={result.ok} events={result.events} seals={result.seals} first_bad={result.first_bad} "
        f"bad_seal={result.bad_seal} {result.problem or ''}".rstrip()
    )
    if result.latest_seal:
        click.echo("latest " + _seal_line(result.latest_seal))
    sys.exit(0 if result.ok else 1)


@audit.command("seal")
def audit_seal() -> None:
    """Seal the chain's head now (the standing audit-seal workflow does it periodically)."""
    from infra.db.audit import AuditChainBroken, seal

    with _traced("audit seal"):
        try:
            sealed = _with_db(seal)
        except AuditChainBroken as exc:
            raise click.ClickException(f"{exc} (kameng audit verify names the first bad event)") from None
    click.echo("sealed: " + _seal_line(sealed))


@audit.command("key")
def audit_key() -> None:
    """Print the current seal key's id and public key (for KAMENG_AUDIT_VERIFY_KEYS after rotation)."""
    from infra.audit_keys import SealKeyError, key_id, public_text, signing_key

    try:
        public = signing_key().public_key()
    except SealKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"key_id={key_id(public)} public_key={public_text(public)}")


def _echo_events(rows: list[dict], as_json: bool) -> None:
    import msgspec

    for row in rows:
        if as_json:
            click.echo(msgspec.json.encode(row).decode())
        else:
            click.echo(
                f"{row['seq']:>8}  {row['at'].astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')}Z  {row['actor']:<20} "
                f"{row['action']:<28} {row['target']:<32} {row['outcome']:<9} {row['reason']}"
            )


@audit.command("who-read")
@click.option("--buyer", required=True, help="Buyer code.")
@click.option("--days", type=click.IntRange(1, 3650), default=7, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
def audit_who_read(buyer: str, days: int, as_json: bool) -> None:
    """Who read a buyer's sensitive data in the last DAYS days, newest first."""
    from infra.db.forensics import who_read

    since = datetime.now(UTC) - timedelta(days=days)
    rows = _with_db(lambda: who_read(f"buyer:{buyer}", since))
    _echo_events(rows, as_json)
    if not as_json:
        click.echo(f"{len(rows)} sensitive read(s) of buyer {buyer} since {since:%Y-%m-%d %H:%M}Z", err=True)


@audit.command("actor")
@click.argument("username")
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="A UTC day (default: yesterday).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
def audit_actor(username: str, day: datetime | None, as_json: bool) -> None:
    """Everything USERNAME did on one UTC day, oldest first."""
    from infra.db.forensics import actor_activity

    start = (day or datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)
    rows = _with_db(lambda: actor_activity(username, start, start + timedelta(days=1)))
    _echo_events(rows, as_json)
    if not as_json:
        click.echo(f"{len(rows)} event(s) by {username} on {start:%Y-%m-%d} (UTC)", err=True)


@audit.command("export")
@click.option("--process", "process_id", required=True, help="The case's process id.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="A file (default: stdout).")
def audit_export(process_id: str, out: str | None) -> None:
    """Write a case's full timeline as JSON lines, chain fields included (each line re-hashes)."""
    import msgspec

    from infra.db.forensics import process_timeline

    async def collect() -> list[bytes]:
        return [msgspec.json.encode(row) async for row in process_timeline(process_id)]

    lines = _with_db(collect)
    if not lines:
        raise click.ClickException(f"no audit events for process {process_id}")
    if out:
        with open(out, "wb") as handle:
            handle.writelines(line + b"\n" for line in lines)
        click.echo(f"wrote {len(lines)} event(s) to {out}", err=True)
    else:
        for line in lines:
            click.echo(line.decode())

main.add_command(risk)


@main.group()
def grants() -> None:
    """Temporary permission grants (动态权限)."""


@grants.command("check")
@click.option("--dry-run", is_flag=True, help="List the grants above the ceiling; revoke nothing.")
@click.option("--grant", "grant_ids", multiple=True, help="Only this grant (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
def grants_check(dry_run: bool, grant_ids: tuple[str, ...], as_json: bool) -> None:
    """Find active grants that exceed what their approver may delegate, and revoke them
    (audited; each grant's process is told). Exits 1 when any was found."""
    import msgspec

    from infra.grants_check import exceeding_grants, revoke_exceeding

    only = frozenset(grant_ids) if grant_ids else None

    async def run():
        if dry_run:
            return await exceeding_grants(only=only)
        from infra.temporal.client import connect

        try:
            client = await connect(get_settings())
        except RuntimeError:
            client = None  # Temporal out of reach: the database revocation holds on its own
        return await revoke_exceeding(client, only=only)

    with _traced("grants check"):
        found = _with_db(run)
    for grant in found:
        if as_json:
            click.echo(msgspec.json.encode(grant).decode())
        else:
            click.echo(f"{'exceeds' if dry_run else 'revoked'} {grant.grant_id}: {grant.permission} ({grant.scope}) "
                       f"to {grant.grantee}, approved by {grant.approved_by}: {grant.code}: {grant.reason}")
    if not as_json:
        click.echo(f"{len(found)} grant(s) above the delegation ceiling" + ("" if dry_run or not found else ", revoked"))
    sys.exit(1 if found else 0)


@main.group()
def sessions() -> None:
    """Admin sessions: end them (after a suspected leak, or as a routine rotation)."""


@sessions.command("end")
@click.option("--admin", "username", help="Only this admin's sessions.")
@click.option("--all", "everyone", is_flag=True, help="Every admin's sessions.")
@click.option("--reason", required=True, help="Why (written to the audit trail).")
def sessions_end(username: str | None, everyone: bool, reason: str) -> None:
    """End live sessions; their holders must sign in again. Audited."""
    from infra.accounts import end_sessions
    from infra.db.audit import append
    from workflows.domain.messages import AuditRecord

    if bool(username) == everyone:
        raise click.UsageError("give exactly one of --admin NAME or --all")

    async def run() -> int:
        ended = await end_sessions(username)
        await append(AuditRecord(
            actor="operator", actor_tier="system", action="sessions.ended", target=f"admin:{username}" if username else "admin:*",
            outcome="done", reason=reason, source="cli", after={"ended": ended},
        ))
        return ended

    try:
        ended = _with_db(run)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"ended {ended} session(s)")


@main.group()
def process() -> None:
    """Processes from the command line, signed in as an admin: the same use cases as the API
    and the console (api/commands.py), with the same checks and the same audit rows."""


@process.command("start")
@click.argument("kind")
@click.option("--admin", "username", required=True, help="The admin who starts it (signs in with their password).")
@click.option("--password-env", default="KAMENG_ADMIN_PASSWORD", show_default=True, help="Variable holding the password (else it is asked for).")
@click.option("--body", required=True, help="The start's body as JSON (the API's), or @FILE.")
@click.option("--idempotency-key", default=None, help="The same key starts the same process once.")
def process_start(kind: str, username: str, password_env: str, body: str, idempotency_key: str | None) -> None:
    """Start a process of KIND as --admin; prints its id. Refused: the code and reason, exit 2."""
    import os
    from pathlib import Path

    import msgspec

    from workflows.registry import BY_KIND

    spec = BY_KIND.get(kind)
    if spec is None:
        raise click.BadParameter(f"no process kind {kind!r} (one of {', '.join(sorted(BY_KIND))})", param_hint="KIND")
    raw = Path(body[1:]).read_bytes() if body.startswith("@") else body.encode()
    try:
        data = msgspec.json.decode(raw, type=spec.input)
    except msgspec.DecodeError as exc:
        raise click.BadParameter(str(exc), param_hint="--body") from None
    password = os.environ.get(password_env) or click.prompt(f"password for {username}", hide_input=True)

    async def run():
        from api import commands
        from api.errors import ApiError
        from infra.accounts import authenticate, load_actor
        from infra.temporal.client import connect
        from workflows.process import ProcessConfig

        if await authenticate(username, password) is None:
            from infra.db.audit import append
            from workflows.domain.messages import AuditRecord

            await append(AuditRecord(actor=username[:64], actor_tier="", action="auth.login", target=f"admin:{username[:64]}",
                                     outcome="denied", reason="wrong username or password", source="cli"))
            return None, ("invalid_credentials", "wrong username or password")
        actor = await load_actor(username)
        settings = get_settings()
        target = commands.Target(
            client=await connect(settings), task_queue=settings.task_queue,
            config=ProcessConfig(search_attributes=settings.search_attributes),
        )
        try:
            started = await commands.start(target, commands.Requester(actor=actor, source="cli"), spec, data, idempotency_key=idempotency_key)
        except ApiError as exc:
            return None, (exc.code, exc.reason)
        return started, None

    with _traced("process start"):
        started, refused = _with_db(run)
    if refused is not None:
        click.echo(f"refused: {refused[0]}: {refused[1]}", err=True)
        sys.exit(2)
    click.echo(started.process_id + (" (joined)" if started.joined else ""))


if __name__ == "__main__":
    main()
