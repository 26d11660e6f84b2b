"""What every page of the console shares: who is signed in, the language, the connection's
scope (for the Temporal client and the source address), live updates, policy checks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Callable
from urllib.parse import parse_qs

from reactpy import component, create_context, html, use_context, use_effect, use_ref, use_state
from reactpy.backend.types import Location
from reactpy_router.components import Link as _LinkScript
from reactpy_router.hooks import _use_route_state

from web.i18n import code_text, t
from web.live import LIVE
from web.session import ConsoleSession
from api import commands
from api.clientaddr import client_address, trusted_networks
from workflows.process import ProcessConfig
from workflows.domain.policy import DEFAULT_POLICY, NO_SUBJECT, Decision, Subject


@dataclass(frozen=True)
class Console:
    session: ConsoleSession
    lang: str
    csrf: str
    scope: dict[str, Any] = field(repr=False)
    refresh_session: Callable[[], None] = field(repr=False, default=lambda: None)

    @property
    def actor(self):
        return self.session.actor

    def t(self, key: str, **values: object) -> str:
        return t(key, self.lang, **values)

    @property
    def source(self) -> str:
        """The admin's address, through the trusted proxies in front, as the API reads it."""
        settings = self.settings
        return client_address(self.scope, trusted_networks(settings.trusted_proxies), settings.forwarded_header)

    async def temporal(self):
        """The web process's Temporal client (raises ``ApiError`` 503 when unreachable)."""
        return await self.scope["app"].state.temporal.client()

    @property
    def settings(self):
        return self.scope["app"].state.settings

    @property
    def requester(self) -> commands.Requester:
        return commands.Requester(actor=self.actor, source=self.source)

    async def target(self) -> commands.Target:
        """Where this console starts processes: the web process's client, queue and configuration."""
        settings = self.settings
        return commands.Target(
            client=await self.temporal(), task_queue=settings.task_queue,
            config=ProcessConfig(search_attributes=settings.search_attributes),
        )

    def can(self, permission: str, subject: Subject | None = None) -> Decision:
        return DEFAULT_POLICY.can(self.actor, permission, subject or NO_SUBJECT, now=datetime.now(UTC))

    def holds(self, permission: str) -> bool:
        """Holds the permission at all (tier matrix or an active grant), whatever the subject."""
        if DEFAULT_POLICY.cell(self.actor.tier, permission) is not None:
            return True
        now = datetime.now(UTC)
        return any(g.permission == permission and g.active_at(now) for g in self.actor.grants)

    def request_id(self) -> str:
        return f"{self.actor.id}:console:{uuid.uuid4().hex}"


ConsoleContext = create_context(None)


def use_console() -> Console:
    console = use_context(ConsoleContext)
    assert console is not None, "pages render inside the console context"
    return console


def use_live(*topics: str) -> int:
    """A number that changes whenever one of ``topics`` changes (pushed by ``web.live``)."""
    tick, set_tick = use_state(0)

    @use_effect(dependencies=[])
    def subscribe():
        unsubscribers = [LIVE.subscribe(topic, lambda _gen: set_tick(lambda n: n + 1)) for topic in topics]

        def unsubscribe():
            for undo in unsubscribers:
                undo()

        return unsubscribe

    return tick


def query_params(search: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(search.lstrip("?")).items() if v}


def refusal_message(code: str, reason: str, lang: str) -> str:
    """A refusal from the workflow or the policy, readable: the words for its code, then its reason."""
    words = code_text(code, lang)
    if words == code:
        return f"{reason}（{code}）" if lang == "zh" else f"{reason} ({code})"
    return f"{words}（{reason}）" if lang == "zh" else f"{words} ({reason})"


DEFINITE_DENIALS = {
    "no_permission", "out_of_region", "not_own", "self_approval", "conflict_of_interest", "inactive", "not_independent",
    "funds_need_super", "not_outranking", "grant_expired", "grant_revoked", "grant_not_started",
}
"""Policy answers that settle it. Others (``band_unknown``, ``tier_unknown``) depend on facts the
inbox row does not carry: the action stays offered and the workflow decides."""


def may_offer(console: Console, permission: str, row: dict[str, Any]) -> bool:
    """Whether to offer an action needing ``permission`` on this task row (what the policy denies is not shown)."""
    evidence = row.get("evidence") if isinstance(row.get("evidence"), dict) else {}
    subject = Subject(
        kind=row.get("kind", ""),
        region=row.get("region"),
        excluded=tuple(row.get("excluded") or ()),
        requester=evidence.get("requester") or evidence.get("maker") or evidence.get("proposed_by"),
        subject_tier=evidence.get("requester_tier") or evidence.get("nominee_tier"),
        permission=evidence.get("permission"),
    )
    named = console.actor.id in (row.get("candidates") or ())
    decision = console.can(permission, subject)
    if decision.allowed:
        return True
    if named and decision.code in ("no_permission",):
        return False
    return decision.code not in DEFINITE_DENIALS


@component
def _link(attributes: dict[str, Any], *children: Any):
    """reactpy-router's link, but with a class of its own for the script to find: the
    router's ``link`` hands the script the element's whole class list, which a CSS
    selector cannot match when the element has other classes too."""
    token = use_ref(f"link-{uuid.uuid4().hex}").current
    set_location = _use_route_state().set_location
    attrs = dict(attributes)
    classes = " ".join(c for c in (attrs.pop("class_name", ""), attrs.pop("className", ""), token) if c)

    def on_click(event: dict[str, Any]) -> None:
        set_location(Location(**event))

    return html._(
        _LinkScript({"onClickCallback": on_click, "linkClass": token}),
        html.a({**attrs, "className": classes}, *children),
    )


def link(attributes: dict[str, Any], *children: Any, key: str | None = None):
    """An in-console link: navigates client-side over the open connection."""
    return _link(attributes, *children, key=key)
