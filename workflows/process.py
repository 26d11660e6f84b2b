"""What every process shares: inbox tasks, human actions as validated Updates, deadlines,
escalation and audit. A process subclasses ``Process`` and writes only its own steps.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

import msgspec
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.domain.messages import ActionView, AuditRecord, TaskChange, TaskClose, TaskRecord
    from workflows.domain.policy import DEFAULT_POLICY, Actor, Subject
    from workflows.domain.priority import task_priority
    from workflows.domain.timing import StepTiming, timing_for
    from workflows.spec import ActionSpec

KIND = SearchAttributeKey.for_keyword("KamengKind")
REGION = SearchAttributeKey.for_keyword("KamengRegion")
TIER = SearchAttributeKey.for_keyword("KamengTier")
STATUS = SearchAttributeKey.for_keyword("KamengStatus")

SYSTEM = Actor(id="system", tier="system")
ACTIVITY_TIMEOUT = timedelta(seconds=30)
TRUST_CORE = "admit-start"
"""The one patch of the trust core, so that a run records one marker (and one search-attribute
update) for all of it: every process checks its own start (``Process.admit``), a grant request
goes to a tier able to approve it, a refused refund comes back to its tier, a nomination into a
full tier is refused and a running one can be withdrawn. Runs started before it replay their
old branches."""
LOCAL_WRITES = "local-writes"
"""The patch that moved a step's writes from activities to local activities."""
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30))


class ProcessConfig(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    timings: dict[str, StepTiming] = {}
    """Per ``<kind>.<step>`` deadline overrides (tests use short ones)."""
    search_attributes: bool = True
    history_limit: int = 2000
    """Long-running processes continue as new past this many history events."""
    batch_writes: bool = False
    """Write a step's records in one transaction, when the process next waits (``Process.flush``):
    ``start_process`` sets it for every process it starts. Runs started before it replay their
    writes one local activity each, as their histories recorded them."""


T = TypeVar("T")


class Start(msgspec.Struct, Generic[T], frozen=True, kw_only=True, omit_defaults=True):
    """How every process starts: who started it, the typed body, the business key.

    Workflow inputs leave out fields at their defaults (``omit_defaults``): the history keeps
    every input, and a missing field decodes to its default."""

    by: Actor | None
    """The admin who started it; None for platform intake and risk signals."""
    body: T
    key: str
    """The business key the workflow id is built from."""
    config: ProcessConfig = ProcessConfig()
    resume: dict[str, Any] | None = None
    """State carried across continue-as-new."""
    case: dict[str, tuple[str, ...]] = {}
    """Who took which part in the case so far (role -> admins), from the process that opened
    this one: ``ActionSpec.independent_of`` is checked against it."""


class ActInput(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    actor: Actor
    action: str
    request_id: str
    task_id: str | None = None
    body: dict[str, Any] = {}
    source: str = ""


class ClaimInput(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    actor: Actor
    task_id: str
    request_id: str = ""
    source: str = ""


class PlatformEventInput(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Something the platform reports into a running process (a merchant's documents, a
    buyer's appeal, a merchant's response), sent by a service-token caller, not an admin."""

    event: str
    request_id: str
    source: str = "platform"
    body: dict[str, Any] = {}


class Write(msgspec.Struct, frozen=True, array_like=True):
    """One deferred write: the activity that makes it and its argument, encoded."""

    name: str
    arg: msgspec.Raw


class WriteBatch(msgspec.Struct, frozen=True, kw_only=True):
    """The writes a process deferred since it last waited, made in one transaction
    (``activities/writes.py``), in order."""

    writes: tuple[Write, ...]


class Decided(msgspec.Struct, frozen=True, kw_only=True):
    action: str
    actor: Actor
    body: dict[str, Any] = {}
    reason: str = ""
    at: datetime
    request_id: str = ""

    def as_(self, kind: type) -> Any:
        return msgspec.convert(self.body, kind)


class TaskState(msgspec.Struct, kw_only=True):
    task_id: str
    step: str
    title: str
    tier: str
    region: str | None
    actions: tuple[str, ...]
    subject: Subject
    candidates: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    evidence: dict[str, Any] = {}
    assignee: str | None = None
    due_at: datetime | None = None
    remind_at: datetime | None = None
    reminded: bool = False
    escalations: int = 0
    on_timeout: str = "escalate"
    decision: Decided | None = None
    closed: bool = False
    seq: int = 0
    priority: int = 0


class TaskView(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    step: str
    title: str
    tier: str
    region: str | None
    actions: list[str]
    assignee: str | None
    due_at: datetime | None
    escalations: int
    evidence: dict[str, Any]


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    actor: str
    action: str
    step: str = ""
    detail: str = ""


class ProcessView(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    process_id: str
    status: str
    step: str
    tasks: list[TaskView]
    timeline: list[TimelineEntry]
    result: dict[str, Any] = {}
    region: str | None = None
    started_by: str | None = None
    parties: list[str] = []
    """Admins who took part (started, acted, were named): they may read the case."""
    standing: list[str] = []
    """Standing actions (no inbox task) the process takes now: ``offer``ed and not withdrawn."""


class ActionResult(msgspec.Struct, frozen=True, kw_only=True):
    process_id: str
    task_id: str
    action: str
    actor: str
    status: str
    """The process status after the action."""
    step: str
    detail: dict[str, Any] = {}


def reject(code: str, reason: str) -> ApplicationError:
    """A refusal the API turns into a 4xx with this code; raised in a validator it leaves no trace."""
    return ApplicationError(reason, code, type=code, non_retryable=True)


class Process:
    """Base of every governance process. Subclasses set KIND and ACTIONS and write ``run``."""

    KIND: ClassVar[str] = ""
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = ()
    SPEC: ClassVar[Any] = None
    """The kind's ``WorkflowSpec`` (set by the spec itself)."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskState] = {}
        self._results: dict[str, ActionResult] = {}
        self._timeline: list[TimelineEntry] = []
        self._status = "running"
        self._step = "started"
        self._result: dict[str, Any] = {}
        self._counter = 0
        self._config = ProcessConfig()
        self._region: str | None = None
        self._started_by: str | None = None
        self._standing: dict[str, Subject] = {}
        self._events: list[Decided] = []
        self._handled: set[str] = set()
        self._settled = 0
        """Counts the points where the process waits (or ends): an action's caller waits for the next."""
        self._awaiting: set[str] = set()
        self._draining = False
        self._writes: list[Write] = []
        """Writes deferred until the process next waits (``write``, ``flush``)."""
        self._flushing = asyncio.Lock()
        self._case: dict[str, tuple[str, ...]] = {}
        """The case's roles and who held them (``Start.case`` and this process's own decisions)."""

    # ----- reading -------------------------------------------------------------------------

    @property
    def process_id(self) -> str:
        return workflow.info().workflow_id

    @workflow.query(name="view")
    def view(self) -> ProcessView:
        return ProcessView(
            kind=self.KIND,
            process_id=self.process_id,
            status=self._status,
            step=self._step,
            tasks=[self._task_view(t) for t in self._tasks.values() if not t.closed],
            timeline=list(self._timeline),
            result=dict(self._result),
            region=self._region,
            started_by=self._started_by,
            parties=sorted(
                {e.actor for e in self._timeline if e.actor != "system" and not e.actor.startswith("platform:")}
                | {c for t in self._tasks.values() for c in t.candidates}
            ),
            standing=[] if self._draining else sorted(self._standing),
        )

    def _task_view(self, task: TaskState) -> TaskView:
        return TaskView(
            task_id=task.task_id, step=task.step, title=task.title, tier=task.tier, region=task.region,
            actions=list(task.actions), assignee=task.assignee, due_at=task.due_at,
            escalations=task.escalations, evidence=task.evidence,
        )

    # ----- human actions -------------------------------------------------------------------

    def _action_spec(self, name: str) -> ActionSpec | None:
        return next((a for a in self.ACTIONS if a.name == name), None)

    def _open_task(self, task_id: str | None) -> TaskState:
        open_tasks = [t for t in self._tasks.values() if t.decision is None and not t.closed]
        if task_id is None:
            if not open_tasks:
                raise reject("already_decided", f"nothing in this process is waiting for a decision (step {self._step})")
            if len(open_tasks) > 1:
                raise reject("task_required", f"name the task: this process has {len(open_tasks)} open tasks")
            return open_tasks[0]
        task = self._tasks.get(task_id)
        if task is None:
            raise reject("no_such_task", f"task {task_id} is not part of this process")
        if task.decision is not None or task.closed:
            raise reject("already_decided", f"task {task_id} has already been decided")
        return task

    def _may_work_on(self, actor: Actor, task: TaskState, action: ActionSpec) -> None:
        if actor.id in task.excluded:
            raise reject("conflict_of_interest", f"{actor.id} is a party to this case and may not act on it")
        if actor.tier not in DEFAULT_POLICY.ladder:
            raise reject("no_permission", f"tier {actor.tier!r} may not act on tasks")
        named = actor.id in task.candidates
        granted = any(g.permission == action.permission and g.active_at(workflow.now()) for g in actor.grants)
        if not (named or granted) and task.tier in DEFAULT_POLICY.ladder and DEFAULT_POLICY.ladder.rank(actor.tier) < DEFAULT_POLICY.ladder.rank(task.tier):
            raise reject(
                "tier_too_low",
                f"this task is with the {task.tier} tier; a {actor.tier} admin cannot act on it",
            )
        subject = task.subject
        if action.independent_of:
            subject = msgspec.structs.replace(subject, independent_of=self.case_roles(action.independent_of))
        decision = DEFAULT_POLICY.can(actor, action.permission, subject, now=workflow.now())
        if not decision.allowed:
            raise reject(decision.code, decision.reason)

    # ----- the start -----------------------------------------------------------------------

    async def admit(self, params: Start) -> dict[str, Any] | None:
        """Check the start as the command layer does, from the facts the input carries: a
        process started around the API (straight on Temporal, with no admin where the kind
        needs one, or an admin the policy does not let start it) is refused and audited
        instead of acting. The kind's own start rules (``validate_start``) the process checks
        itself, as it goes.
        Returns the finished result to return, or None to go on. A child process's start was
        checked by its parent; a process continued as new was admitted when it began."""
        spec = self.SPEC
        if spec is None or params.resume is not None or workflow.info().parent is not None or not workflow.patched(TRUST_CORE):
            return None
        by = params.by
        body = params.body
        problem: tuple[str, str] | None = None
        if by is None:
            if not spec.platform_start:
                problem = ("starter_required", f"a {spec.kind} process is started by an admin")
        else:
            region = getattr(body, "region", None)
            decision = DEFAULT_POLICY.holds(
                by, spec.start_permission, region=region if isinstance(region, str) else None, now=workflow.now()
            )
            if not decision.allowed:
                problem = (decision.code, decision.reason)
        if problem is None:
            return None
        code, reason = problem
        self.configure(params.config, None)
        await self.audit(f"{self.KIND}.start", "denied", actor=by or SYSTEM, reason=f"{code}: {reason}", key="start-denied")
        return await self.finish("rejected", reason, code=code)

    # ----- the case ------------------------------------------------------------------------

    def join_case(self, params: Start) -> None:
        """Take over the roles of the case this process was opened in."""
        for role, holders in params.case.items():
            self._case[role] = tuple(dict.fromkeys((*self._case.get(role, ()), *holders)))

    def took_part(self, role: str, actor: Actor) -> None:
        if role and actor.id != SYSTEM.id:
            self._case[role] = tuple(dict.fromkeys((*self._case.get(role, ()), actor.id)))

    def case_roles(self, roles: tuple[str, ...] | None = None) -> tuple[tuple[str, str], ...]:
        """(role, admin) pairs of the case, for ``roles`` or all."""
        return tuple((role, holder) for role, holders in self._case.items() if roles is None or role in roles for holder in holders)

    def case(self) -> dict[str, tuple[str, ...]]:
        """The roles to hand to a process this one opens (``Start.case``)."""
        return dict(self._case)

    @workflow.update(name="act")
    async def act(self, request: ActInput) -> ActionResult:
        if request.request_id in self._results:
            return self._results[request.request_id]
        spec = self._action_spec(request.action)
        assert spec is not None  # the validator checked it
        if request.task_id is None and request.action in self._standing:
            return await self._standing_action(request, spec)
        task = self._open_task(request.task_id)
        if task.assignee not in (None, request.actor.id):
            raise reject("claimed_by_other", f"{task.assignee} claimed this task first")
        body = msgspec.convert(request.body, spec.input)
        task.decision = Decided(
            action=request.action,
            actor=request.actor,
            body=msgspec.to_builtins(body),
            reason=str(getattr(body, "reason", "") or getattr(body, "comment", "") or ""),
            at=workflow.now(),
            request_id=request.request_id,
        )
        # Other tasks of a parallel step still open: the process waits on people, so the
        # caller need not wait for the next step.
        await self._moved_on(lambda: task.closed, lambda: any(t is not task and not t.closed and t.decision is None for t in self._tasks.values()))
        result = ActionResult(
            process_id=self.process_id,
            task_id=task.task_id,
            action=request.action,
            actor=request.actor.id,
            status=self._status,
            step=self._step,
            detail=dict(self._result),
        )
        self._results[request.request_id] = result
        return result

    async def _standing_action(self, request: ActInput, spec: ActionSpec) -> ActionResult:
        body = msgspec.convert(request.body, spec.input)
        self._events.append(
            Decided(
                action=request.action, actor=request.actor, body=msgspec.to_builtins(body),
                reason=str(getattr(body, "reason", "") or ""), at=workflow.now(), request_id=request.request_id,
            )
        )
        await self._moved_on(lambda: request.request_id in self._handled)
        result = ActionResult(
            process_id=self.process_id, task_id="", action=request.action, actor=request.actor.id,
            status=self._status, step=self._step, detail=dict(self._result),
        )
        self._results[request.request_id] = result
        return result

    @act.validator
    def _validate_act(self, request: ActInput) -> None:
        if request.request_id in self._results:
            return
        if not request.request_id:
            raise reject("request_id_required", "every action carries a request id")
        if request.task_id is None and request.action in self._standing:
            self._validate_standing(request)
            return
        task = self._open_task(request.task_id)
        spec = self._action_spec(request.action)
        if spec is None or request.action not in task.actions:
            raise reject(
                "action_not_available",
                f"{request.action!r} is not an action of step {task.step!r} (available: {', '.join(task.actions)})",
            )
        if task.assignee not in (None, request.actor.id):
            raise reject("claimed_by_other", f"{task.assignee} has claimed this task")
        self._may_work_on(request.actor, task, spec)
        try:
            body = msgspec.convert(request.body, spec.input)
        except msgspec.ValidationError as exc:
            raise reject("invalid_body", str(exc)) from None
        problem = self.check_action(task, request.actor, request.action, body)
        if problem is not None:
            raise reject(*problem)

    async def _moved_on(self, dealt_with, waiting_on_others=lambda: False) -> None:
        """Wait until the process has dealt with an action, then until it next waits or ends.

        The mark is taken only after the action is dealt with: a settle point passed before
        that (the task being recorded, the event loop being entered) does not count.
        """
        await workflow.wait_condition(dealt_with)
        mark = self._settled
        await workflow.wait_condition(lambda: self._settled > mark or waiting_on_others() or self._draining)
        await self.flush()  # answered while others still decide: what this action wrote is written

    async def continue_as_new(self, arg: Any) -> None:
        """Start this process afresh with ``arg``, once every caller has had its answer."""
        await self.flush()
        self._draining = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(arg)

    def _validate_standing(self, request: ActInput) -> None:
        spec = self._action_spec(request.action)
        assert spec is not None
        decision = DEFAULT_POLICY.can(request.actor, spec.permission, self._standing[request.action], now=workflow.now())
        if not decision.allowed:
            raise reject(decision.code, decision.reason)
        try:
            body = msgspec.convert(request.body, spec.input)
        except msgspec.ValidationError as exc:
            raise reject("invalid_body", str(exc)) from None
        problem = self.check_action(None, request.actor, request.action, body)
        if problem is not None:
            raise reject(*problem)

    def offer(self, action: str, subject: Subject) -> None:
        """Make a standing action available on the process (no inbox task)."""
        self._standing[action] = subject

    def withdraw(self, *actions: str) -> None:
        for action in actions:
            self._standing.pop(action, None)

    async def next_event(self, timeout: timedelta) -> Decided | None:
        """The next standing action or platform event, or None when ``timeout`` passes first.

        Call ``handled(event)`` once it is dealt with: its caller waits for that.
        """
        await self.flush()
        self._settled += 1
        try:
            await workflow.wait_condition(lambda: bool(self._events), timeout=max(timeout, timedelta(0)))
        except asyncio.TimeoutError:
            return None
        return self._events.pop(0)

    def handled(self, event: Decided) -> None:
        """Release the caller waiting on a standing action."""
        self._timeline.append(TimelineEntry(at=workflow.now(), actor=event.actor.id, action=event.action, step=self._step, detail=event.reason))
        self._handled.add(event.request_id)

    def check_action(self, task: TaskState | None, actor: Actor, action: str, body: Any) -> tuple[str, str] | None:
        """A process's own rule on top of the policy: (code, reason) to refuse, None to allow."""
        return None

    PLATFORM_EVENTS: ClassVar[dict[str, type]] = {}
    """Events the platform may report into this process: name -> body struct."""

    @workflow.update(name="platform_event")
    async def platform_event(self, request: PlatformEventInput) -> ActionResult:
        if request.request_id in self._results:
            return self._results[request.request_id]
        body = msgspec.convert(request.body, self.PLATFORM_EVENTS[request.event])
        actor = Actor(id=f"platform:{request.source}", tier="platform")
        self._events.append(
            Decided(action=request.event, actor=actor, body=msgspec.to_builtins(body), at=workflow.now(), request_id=request.request_id)
        )
        await self._moved_on(lambda: request.request_id in self._handled)
        result = ActionResult(
            process_id=self.process_id, task_id="", action=request.event, actor=actor.id,
            status=self._status, step=self._step, detail=dict(self._result),
        )
        self._results[request.request_id] = result
        return result

    @platform_event.validator
    def _validate_platform_event(self, request: PlatformEventInput) -> None:
        if request.request_id in self._results:
            return
        if request.event not in self.PLATFORM_EVENTS:
            raise reject("unknown_event", f"{self.KIND} takes no platform event {request.event!r}")
        if request.event not in self._awaiting:
            raise reject("not_expected", f"this process is not waiting for {request.event!r} now (step {self._step})")
        try:
            msgspec.convert(request.body, self.PLATFORM_EVENTS[request.event])
        except msgspec.ValidationError as exc:
            raise reject("invalid_body", str(exc)) from None

    def expect(self, *events: str) -> None:
        """Accept these platform events from now on (until ``unexpect``)."""
        self._awaiting.update(events)

    def unexpect(self, *events: str) -> None:
        self._awaiting.difference_update(events)

    @workflow.update(name="claim")
    async def claim(self, request: ClaimInput) -> TaskView:
        task = self._open_task(request.task_id)
        if task.assignee == request.actor.id:
            return self._task_view(task)
        if task.assignee is not None:
            raise reject("claimed_by_other", f"{task.assignee} claimed this task first")
        task.assignee = request.actor.id
        await self._change(task, "claimed", request.actor, assignee=request.actor.id)
        await self.flush()  # the caller is answered now: the claim is written first
        return self._task_view(task)

    @claim.validator
    def _validate_claim(self, request: ClaimInput) -> None:
        task = self._open_task(request.task_id)
        if task.assignee == request.actor.id:
            return
        if task.assignee is not None:
            raise reject("claimed_by_other", f"{task.assignee} has claimed this task")
        denials = []
        for name in task.actions:
            spec = self._action_spec(name)
            if spec is None:
                continue
            try:
                self._may_work_on(request.actor, task, spec)
                return
            except ApplicationError as exc:
                denials.append(exc)
        raise denials[0] if denials else reject("no_permission", "no action of this task is yours to take")

    @workflow.update(name="release")
    async def release(self, request: ClaimInput) -> TaskView:
        task = self._open_task(request.task_id)
        if task.assignee is None:
            return self._task_view(task)
        task.assignee = None
        await self._change(task, "released", request.actor)
        await self.flush()
        return self._task_view(task)

    @release.validator
    def _validate_release(self, request: ClaimInput) -> None:
        task = self._open_task(request.task_id)
        if task.assignee not in (None, request.actor.id) and request.actor.tier != DEFAULT_POLICY.ladder.top.key:
            raise reject("not_assignee", f"only {task.assignee} (or a super admin) can release this task")

    # ----- steps ---------------------------------------------------------------------------

    def configure(self, config: ProcessConfig, region: str | None) -> None:
        self._config = config
        self._region = region

    def timing(self, step: str) -> StepTiming:
        return timing_for(self.KIND, step, self._config.timings)

    async def human_step(
        self,
        step: str,
        *,
        title: str,
        tier: str,
        actions: tuple[str, ...],
        subject: Subject,
        region: str | None = None,
        evidence: dict[str, Any] | None = None,
        candidates: tuple[str, ...] = (),
        excluded: tuple[str, ...] = (),
        on_timeout: str = "escalate",
        priority: int | None = None,
    ) -> Decided:
        """Open an inbox task and wait for its decision, reminding and escalating on time.

        With ``on_timeout="lapse"`` an overdue task closes with the action ``lapsed`` instead.
        ``priority`` (0–100) defaults to ``task_priority`` of the kind, step and evidence; an
        escalation raises it.
        """
        timing = self.timing(step)
        self._counter += 1
        now = workflow.now()
        due_at = now + timing.due
        task = TaskState(
            task_id=f"{self.process_id}:{step}:{self._counter}",
            step=step,
            title=title,
            tier=tier,
            region=region if region is not None else subject.region,
            actions=actions,
            subject=subject,
            candidates=candidates,
            excluded=excluded,
            evidence=evidence or {},
            due_at=due_at,
            remind_at=due_at - timing.remind_before if timing.remind_before else None,
            on_timeout=on_timeout,
            priority=priority if priority is not None else task_priority(self.KIND, step, evidence),
        )
        self._tasks[task.task_id] = task
        self._step = step
        await self._record(task)
        await self._search(tier=task.tier)
        await self.flush()
        self._settled += 1
        while task.decision is None:
            await self.flush()  # a reminder or an escalation recorded
            wake = task.remind_at if task.remind_at and not task.reminded else task.due_at
            assert wake is not None
            try:
                await workflow.wait_condition(
                    lambda: task.decision is not None,
                    timeout=max(wake - workflow.now(), timedelta(0)),
                )
            except asyncio.TimeoutError:
                await self._on_time(task, timing)
        decision = task.decision
        spec = self._action_spec(decision.action)
        if spec is not None:
            self.took_part(spec.role, decision.actor)
        await self._close(task, decision)
        self._timeline.append(
            TimelineEntry(at=decision.at, actor=decision.actor.id, action=decision.action, step=step, detail=decision.reason)
        )
        return decision

    async def _on_time(self, task: TaskState, timing: StepTiming) -> None:
        now = workflow.now()
        if task.remind_at and not task.reminded and now >= task.remind_at and (task.due_at is None or now < task.due_at):
            task.reminded = True
            await self._change(task, "reminded", SYSTEM, reason=f"due at {task.due_at.isoformat() if task.due_at else '-'}")
            return
        if task.due_at is None or now < task.due_at:
            return
        if task.on_timeout == "lapse":
            task.decision = Decided(action="lapsed", actor=SYSTEM, reason=f"no decision by {task.due_at.isoformat()}", at=now)
            return
        above = DEFAULT_POLICY.ladder.above(task.tier) if task.tier in DEFAULT_POLICY.ladder else None
        previous = task.tier
        task.tier = above.key if above else task.tier
        task.escalations += 1
        task.priority = max(task.priority, task_priority(self.KIND, task.step, task.evidence, task.escalations))
        task.assignee = None
        task.due_at = now + timing.due
        task.remind_at = task.due_at - timing.remind_before if timing.remind_before else None
        task.reminded = False
        reason = (
            f"overdue: no decision within {timing.due}; escalated from {previous} to {task.tier}"
            if above
            else f"overdue: no decision within {timing.due}; already at the top tier, flagged again"
        )
        self._timeline.append(TimelineEntry(at=now, actor="system", action="escalated", step=task.step, detail=reason))
        await self._change(task, "escalated", SYSTEM, tier=task.tier, reason=reason, priority=task.priority)
        await self._search(tier=task.tier)

    # ----- side effects (activities) -------------------------------------------------------

    async def _activity(self, name: str, arg: Any, result_type: type | None = None, *, long: bool = False) -> Any:
        """Run one of the step's reads or writes. They are short database transactions, so
        they run as local activities: in the worker, recorded with the workflow task that
        asked for them, with no activity task through the server (histories from before the
        ``LOCAL_WRITES`` patch keep their activity tasks on replay). A ``long`` one (minutes
        of work, like a backtest) stays an activity task any worker may pick up."""
        if (self._writes or self._flushing.locked()) and name != "apply_writes":
            await self.flush()  # what was deferred is written before anything that follows it
        if not long and workflow.patched(LOCAL_WRITES):
            return await workflow.execute_local_activity(
                name, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY, result_type=result_type
            )
        return await workflow.execute_activity(
            name, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY, result_type=result_type
        )

    async def write(self, name: str, arg: Any) -> None:
        """A write whose result the process does not read. With ``batch_writes`` it waits
        for the process's next wait (``flush``), so that the writes of one step take one
        transaction and one local activity; else it is made now."""
        if self._config.batch_writes:
            self._writes.append(Write(name=name, arg=msgspec.Raw(msgspec.json.encode(arg))))
            return
        await self._activity(name, arg)

    async def flush(self) -> None:
        """Make the deferred writes, in order, in one transaction. The process calls it
        before it waits (for a person, an event, a timer, a child) and before it ends, so
        that whoever it answers then finds the step written.

        Branches of the process running side by side (the tasks of a parallel step) put
        their writes in one batch: the branches ready to run add theirs before it is taken.
        Batches are made one after another, and a flush returns only once every write
        deferred before it is made, whichever branch's batch carried it."""
        if not self._writes and not self._flushing.locked():
            return
        async with self._flushing:
            if self._writes:
                await asyncio.sleep(0)  # a bare yield: deterministic, no timer
                batch, self._writes = tuple(self._writes), []
                await self._activity("apply_writes", WriteBatch(writes=batch))

    async def _record(self, task: TaskState) -> None:
        actions = []
        for name in task.actions:
            spec = self._action_spec(name)
            if spec is not None:
                actions.append(ActionView(spec.name, spec.label_zh, spec.label_en, spec.permission))
        await self.write(
            "record_task",
            TaskRecord(
                task_id=task.task_id, kind=self.KIND, process_id=self.process_id, step=task.step,
                title=task.title, tier=task.tier, region=task.region, candidates=task.candidates,
                excluded=task.excluded, actions=tuple(actions), evidence=task.evidence, subject=task.subject,
                priority=task.priority, due_at=task.due_at, remind_at=task.remind_at, created_at=workflow.now(),
            ),
        )

    async def _change(self, task: TaskState, change: str, actor: Actor, **fields: Any) -> None:
        task.seq += 1
        await self.write(
            "change_task",
            TaskChange(
                task_id=task.task_id, process_id=self.process_id, change=change, actor=actor.id,
                actor_tier=actor.tier, region=task.region, due_at=task.due_at, remind_at=task.remind_at,
                at=workflow.now(), seq=task.seq, **fields,
            ),
        )

    async def waiting(self) -> None:
        """Say the process now waits on something other than a person (a child process, a
        timer): callers of the action that led here get their answer now."""
        await self.flush()
        self._settled += 1

    def withdraw_task(self, task_id: str, reason: str) -> None:
        """Close an open task nobody needs any more (its ``human_step`` returns ``withdrawn``)."""
        task = self._tasks.get(task_id)
        if task is not None and task.decision is None:
            task.decision = Decided(action="withdrawn", actor=SYSTEM, reason=reason, at=workflow.now())

    def open_task_ids(self, step: str | None = None) -> list[str]:
        return [t.task_id for t in self._tasks.values() if t.decision is None and (step is None or t.step == step)]

    async def _close(self, task: TaskState, decision: Decided) -> None:
        await self.write(
            "close_task",
            TaskClose(
                task_id=task.task_id, process_id=self.process_id, kind=self.KIND, action=decision.action,
                actor=decision.actor.id, actor_tier=decision.actor.tier, reason=decision.reason,
                outcome=decision.body, region=task.region, at=workflow.now(),
                status="cancelled" if decision.action == "withdrawn" else "done",
            ),
        )
        task.closed = True

    async def audit(self, action: str, outcome: str, *, actor: Actor = SYSTEM, reason: str = "", target: str | None = None, after: dict[str, Any] | None = None, key: str | None = None) -> None:
        self._timeline.append(TimelineEntry(at=workflow.now(), actor=actor.id, action=action, step=self._step, detail=reason or outcome))
        await self.write(
            "write_audit",
            AuditRecord(
                actor=actor.id, actor_tier=actor.tier, action=action, target=target or f"process:{self.process_id}",
                outcome=outcome, reason=reason, region=self._region, process_id=self.process_id,
                after=after, at=workflow.now(),
                dedup_key=f"{self.process_id}:{key or action}:{workflow.info().run_id}",
                process_status=self._status, process_step=self._step,
            ),
        )

    async def start(self, actor: Actor | None, summary: str, config: ProcessConfig, region: str | None) -> None:
        self.configure(config, region)
        self._started_by = actor.id if actor else None
        await self._search(status="running")
        await self.audit(f"{self.KIND}.started", "started", actor=actor or SYSTEM, reason=summary)

    async def finish(self, status: str, reason: str = "", **result: Any) -> dict[str, Any]:
        """End the process: status and result recorded, audited and searchable; nothing stands any more."""
        self._standing.clear()
        self._status = status
        self._step = "finished"
        self._result = {"status": status, "reason": reason, **result}
        await self.audit(f"{self.KIND}.{status}", status, reason=reason, after=msgspec.to_builtins(self._result), key="finished")
        await self._search(status=status)
        await self.flush()
        self._settled += 1
        return self._result

    async def _search(self, *, status: str | None = None, tier: str | None = None) -> None:
        if not self._config.search_attributes:
            return
        updates = [KIND.value_set(self.KIND)]
        if self._region:
            updates.append(REGION.value_set(self._region))
        if status:
            updates.append(STATUS.value_set(status))
        if tier:
            updates.append(TIER.value_set(tier))
        workflow.upsert_search_attributes(updates)
