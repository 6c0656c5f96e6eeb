"""The regulation engine: one workflow per case, its whole state carried as data.

A regulation subclasses `CaseWorkflow` and declares its clauses: a `TaskSpec` per task kind,
approval chains, escalation ladders, and handlers (`@after("visit")`, `@at("visit_opens")`,
`@on_breach`, `@on_message`, `@on_event`, ...; one method per handler slot). Handlers are
plain synchronous methods: they open tasks and units, set wake-ups, write records, sign, book
ledger rows, propose sanctions and rewards, ask for jobs. The engine owns time, persistence and
messages. What a `TaskSpec` leaves unset (its reminder, lapse, who its breach notifies) comes
from the class's `TASK_DEFAULTS`: `SCALED_DEFAULTS`, the default (in proportion to each task's
span, the breach to the task's holder), or `FIXED_DEFAULTS` (24 h, 30 days, every supervisor:
what R1 was written with, and declares).

Design choices (and why):

- **Carried state, not child workflows.** Every unit of work (a visit chain, a supervisory
  revisit, a key use, an escalation) is data in one `CaseState`: open tasks, units, wake-ups,
  pending jobs. Continue-as-new passes that state on, so open tasks, clocks and pending work
  survive it, and several units overlap freely. Child workflows would add a history per unit,
  a start and a completion round-trip per unit, cross-run parenting on continue-as-new, and
  make "the case" two places in the console; carried state costs one workflow task per step.
- **One clock, timers never cancelled.** The main loop processes everything due, then keeps
  one pending timer at or before the next instant anything is due (a reminder, a due, a
  lapse, a wake-up); it waits with `wait_condition` *without* a timeout. A deadline that moves
  later leaves the old timer to fire and cause a harmless re-evaluation; a new timer starts
  only when something is due earlier than every pending one. (`wait_condition(timeout=)`
  starts and cancels a timer on every wake-up, so the timers of a run depended on how often
  the loop woke.) The history in shared/evidence/ did not fail because of that pattern but of a
  Temporal core defect (a query answered at a crashed worker's sticky queue runs a pending
  timer with a stale clock; tests/test_sdk_stale_query.py); no workflow code avoids it, so
  zhidu's own clients never query a workflow (starter/cases.py) and the worker keeps the sticky
  window short (worker.STICKY_TIMEOUT).
- **Synchronous message handlers.** Updates and signals change the state in their own
  activation and never wait; their validators refuse with a reason and leave no trace.
  Handlers never re-check what validators checked: validators do not run on replay, so a
  stricter rule added later (who may act, a tighter field) must not change what a recorded
  update did (the committed histories caught exactly that once).
- **One activity per step.** Everything a step changes is buffered and written by
  `zhidu.record_step` in one transaction; one write is in flight at a time and the next one
  carries everything that changed meanwhile. The case input and policy go with the first
  write only. Working-day arithmetic runs on calendar data carried in the state
  (`workflows.calendar`), so opening a task needs no activity.
- **Continue-as-new** when Temporal suggests it, or once the run's history passes the
  policy's `continue_as_new_after_events` and no write or job is in flight; handlers finish
  first and the state (with any message that arrived meanwhile) goes into the next run.

Where things are: `CaseWorkflow` is made of mixins, one job per file, that share the base
`CaseBase`; a regulation inherits their methods and their updates, signals and query alike.

- `core.py`: `CaseWorkflow` itself: the declarations and what `__init_subclass__` compiles from
  them, the state a run starts from, the run loop, continue-as-new and drain, what a regulation
  overrides (`begin`, `summarize`, `record_context`); `CasePolicy`.
- `clock.py`: `now`, due times, the one timer and what falls due; the working-day calendar and
  the `calendar_updated` signal.
- `tasks.py`: the policy's deadlines and amounts, person refs (`case.started_by`,
  `task.holder`, ...), opening a task, its clocks (a Deadline or a share of its span), lookups,
  cancel, moving a due; reminder, breach, lapse, and what follows a closed task.
- `units.py`: units, wake-ups, jobs, messages to other cases, sampling.
- `records.py`: timeline, notifications, records, signatures, ledger, status, `finish`.
- `persistence.py`: the buffered changes of a step (the discipline register's entries among
  them) and the one write in flight.
- `authority.py`: who may act in a role of this case (`acts_as`, `why_not`), and on a task that
  is a named person's own (no role: that person only).
- `actions.py`: the updates `complete_task`, `extend_deadline`, `pause_task`, `resume_task` with
  their validators (and the signatures a `@check` may see), the `case_message` signal (a
  message, or an `@on_event` that a person's update brings as well), the `state` query.
- `blocks/approvals.py`, `blocks/ladders.py`: approval chains and escalation ladders (a
  ladder's start and base data, `end_ladder`); `blocks/discipline.py`: sanctions and rewards
  an approval chain decides, written to the discipline register once approved.
- `common.py`: activity options, refusals (`refuse`), times as text; `base.py`: `CaseBase`, the
  state the parts share and, for the type checker, what one part calls on another.

From now on a change here that alters the commands a history recorded goes behind
`workflow.patched`: tests/test_replay.py replays the committed histories.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.engine.actions import (
        MAX_MESSAGE_KEYS,
        METHOD_ZH,
        PARTY_ZH,
        outcome_schema,
        plain_error,
    )
    from workflows.engine.authority import STATUS_ZH
    from workflows.engine.clock import cal_merge
    from workflows.engine.common import ACTIVITY_TIMEOUT, STORE_RETRY, local_text, refuse
    from workflows.engine.core import CasePolicy, CaseWorkflow
    from workflows.engine.records import CLOSED, sha256_text
    from workflows.spec import FIXED_DEFAULTS, SCALED_DEFAULTS, OfSpan, TaskDefaults

__all__ = [
    "ACTIVITY_TIMEOUT",
    "CLOSED",
    "FIXED_DEFAULTS",
    "MAX_MESSAGE_KEYS",
    "METHOD_ZH",
    "PARTY_ZH",
    "SCALED_DEFAULTS",
    "STATUS_ZH",
    "STORE_RETRY",
    "CasePolicy",
    "CaseWorkflow",
    "OfSpan",
    "TaskDefaults",
    "cal_merge",
    "local_text",
    "outcome_schema",
    "plain_error",
    "refuse",
    "sha256_text",
]
