"""``kameng risk ...``: scan the event history, list the rules, backtest a rule change."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click
import msgspec

from infra.settings import get_settings


@click.group()
def risk() -> None:
    """Risk control: signals from the platform's event history (SPEC §6)."""


async def _with_database(work):
    from infra.db.engine import bind_tables, close_pool, start_pool

    bind_tables()
    await start_pool()
    try:
        return await work()
    finally:
        await close_pool()


def _score(value: float) -> str:
    return f"{value:.2f}"


@risk.command("scan")
@click.option("--no-open", is_flag=True, help="Only list the findings: store nothing, open no review.")
@click.option("--days", type=int, default=None, help="History to read (default KAMENG_RISK_LOOKBACK_DAYS).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def scan_command(no_open: bool, days: int | None, lang: str) -> None:
    """Scan now: list every finding with its explanation and open (or join) its review."""
    settings = get_settings()

    async def work():
        from activities.risk.detectors import scan
        from activities.risk.store import load_history, load_rules, record_signals
        from workflows.process import ProcessConfig

        now = datetime.now(UTC)
        rules = await load_rules()
        history = await load_history(now, days or settings.risk_lookback_days)
        findings = scan(history, rules.values())
        reviews = []
        if not no_open:
            from infra.temporal.client import connect

            client = await connect(settings)
            _, reviews = await record_signals(
                findings, rules, client=client, task_queue=settings.task_queue,
                config=ProcessConfig(search_attributes=settings.search_attributes), now=now,
            )
        return history, findings, reviews

    history, findings, reviews = asyncio.run(_with_database(work))
    click.echo(f"scanned {len(history.orders)} orders, {len(history.price_edits)} price edits, {len(history.reads)} reads of user data, {len(history.settlements)} settlements: {len(findings)} findings")
    for f in sorted(findings, key=lambda f: (f.rule, f.at)):
        where = f" [{f.region}]" if f.region else ""
        click.echo(f"\n{f.rule}  {f.subject_kind} {f.subject}{where}  score {_score(f.score)}  rows {len(f.rows)}")
        click.echo(f"  {f.explanation if lang == 'zh' else f.explanation_en}")
    if reviews:
        click.echo("")
        for r in reviews:
            state = "joined open review" if r.joined else "opened review"
            click.echo(f"{state} {r.process_id}  ({r.signal}, {r.subject_kind} {r.subject}, tier {r.tier}, {r.findings} new findings)")
    elif not no_open:
        click.echo("\nno new findings: every one already has its review")


@risk.command("rules")
def rules_command() -> None:
    """The rules in force (defaults, or the version a super last applied)."""

    async def work():
        from activities.risk.store import load_rules

        return await load_rules()

    for rule in asyncio.run(_with_database(work)).values():
        state = "on " if rule.enabled else "off"
        params = " ".join(f"{k}={v:g}" for k, v in rule.params.items())
        click.echo(f"{state} {rule.key:<24} v{rule.version} {rule.signal:<16} tier={rule.tier:<9} {params}  {rule.title_zh}")


def _parse_params(values: tuple[str, ...]) -> dict[str, float]:
    params = {}
    for item in values:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            params[name.strip()] = float(value)
        except ValueError:
            raise click.BadParameter(f"{item!r}: use NAME=NUMBER, e.g. min_orders=10") from None
    return params


@risk.command("backtest")
@click.argument("rule")
@click.option("--set", "settings_", multiple=True, metavar="NAME=VALUE", help="A parameter's new value (repeatable).")
@click.option("--tier", type=click.Choice(["super", "regional", "normal"]), default=None)
@click.option("--enable/--disable", default=None)
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True)
def backtest_command(rule: str, settings_: tuple[str, ...], tier: str | None, enable: bool | None, days: int) -> None:
    """What RULE as proposed would have raised over the last DAYS, against the rule as it is."""
    from activities.risk.rules import RuleChange, check_change

    change = RuleChange(params=_parse_params(settings_), tier=tier, enabled=enable)  # type: ignore[arg-type]
    problem = check_change(rule, change)
    if problem is not None:
        raise click.ClickException(f"{problem[0]}: {problem[1]}")

    async def work():
        from activities.risk import run_backtest

        return await run_backtest(rule, change, days)

    report = asyncio.run(_with_database(work))
    click.echo(f"backtest of {rule} over {days} days ({report.since:%Y-%m-%d} – {report.until:%Y-%m-%d}, {report.orders} orders, {report.price_edits} price edits)")
    click.echo(f"  as it is:    {report.signals_before} signals")
    click.echo(f"  as proposed: {report.signals_after} signals on {report.subjects_after} subjects ({report.added} new, {report.dropped} no longer raised)")
    click.echo("  " + ("major change, needs a second super: " + "; ".join(report.major) if report.major else "minor change: applied once proposed"))
    for title, examples in (("examples", report.examples), ("no longer raised", report.dropped_examples)):
        if examples:
            click.echo(f"\n{title}:")
            for e in examples:
                click.echo(f"  {e.subject_kind} {e.subject} score {_score(e.score)}: {e.explanation}")
    click.echo("\npropose it: POST /api/processes/risk-rule-change " + msgspec.json.encode(
        {"rule": rule, "params": change.params, **({"tier": tier} if tier else {}), **({"enabled": enable} if enable is not None else {}), "reason": "...", "backtest_days": days}
    ).decode())


