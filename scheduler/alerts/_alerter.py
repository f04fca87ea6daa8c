"""Evaluate the alert conditions and tell each channel once per condition, and once more when
it clears.

What a channel was told is kept in the store (:class:`core.store.AlertNotice`), claimed before
the channel is told and put back when that fails — so a check repeated on the next tick, by
another process, or after a restart sends nothing twice, and a channel that was down is told at
the next check. A failing channel is logged and never stops the other channel nor the caller
(the scheduler)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.logging import get_logger
from core.store import AlertNotice, Store
from scheduler._alert_settings import AlertSettings
from scheduler._plan import Plan
from scheduler.alerts._channels import Channel, ChannelError, channels_for
from scheduler.alerts._conditions import Condition, Evaluation, evaluate
from scheduler.alerts._messages import Message, alert_message, recovery_message

__all__ = ["Alerter", "CheckReport", "Delivery"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    event: str
    key: str
    school: str
    #: Empty when sent; else why it was not (safe to show).
    error: str = ""


@dataclass(slots=True)
class CheckReport:
    evaluation: Evaluation
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def sent(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.error]

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.error]


class Alerter:
    """Checks the plan's schools and tells the configured channels."""

    def __init__(
        self,
        plan: Plan,
        store: Store,
        *,
        settings: AlertSettings | None = None,
        channels: list[Channel] | None = None,
    ) -> None:
        settings = settings or plan.alerts
        if settings is None:
            raise ValueError("the plan has no [alerts] section")
        self.plan = plan
        self.store = store
        self.settings = settings
        self.channels = (
            channels if channels is not None else channels_for(settings.webhook, settings.smtp)
        )
        self._lock = asyncio.Lock()
        self._again = False

    async def check(self, now: datetime | None = None) -> CheckReport:
        """Evaluate every condition now and tell the channels what changed."""
        now = now or datetime.now(UTC)
        evaluation = await asyncio.to_thread(
            evaluate, self.plan, self.store, self.settings, now=now
        )
        report = CheckReport(evaluation)
        results = await asyncio.gather(
            *(self._tell(ch, evaluation, now) for ch in self.channels), return_exceptions=True
        )
        for ch, result in zip(self.channels, results, strict=True):
            if isinstance(result, BaseException):  # a bug in a channel: logged, never raised
                log.error("alert channel crashed", channel=ch.name, kind=type(result).__name__)
                continue
            report.deliveries += result
        return report

    async def after_run(self) -> None:
        """The scheduler's hook after each run: one check at a time; runs ending during a check
        get one more check after it (not one each). Never raises."""
        if self._lock.locked():
            self._again = True
            return
        async with self._lock:
            again = True
            while again:
                self._again = False
                try:
                    await self.check()
                except Exception as exc:  # alerts never stop the scheduler
                    log.error("alert check failed", kind=type(exc).__name__, error=str(exc))
                again = self._again

    async def _tell(self, channel: Channel, ev: Evaluation, now: datetime) -> list[Delivery]:
        out: list[Delivery] = []
        firing = {n.key: n for n in self.store.alert_notices(channel.name, told="firing")}
        active = {c.key: c for c in ev.conditions}
        todo: list[tuple[str, Condition | AlertNotice]] = [
            ("alert", c) for key, c in active.items() if key not in firing
        ]
        todo += [
            ("recovery", n)
            for key, n in firing.items()
            if key not in active and (n.kind, n.school, n.platform) in ev.checked
        ]
        down = ""
        for event, item in todo:
            if down:  # the channel failed just now: the rest waits for the next check
                out.append(Delivery(channel.name, event, item.key, item.school, down))
                continue
            message = self._message(event, item, now)
            claimed, previous = self.store.claim_notice(
                channel.name,
                message.key,
                "firing" if event == "alert" else "resolved",
                kind=message.kind,
                school=message.school,
                platform=message.platform,
                summary=message.title if event == "alert" else item_title(item),
                since=message.since if event == "alert" else now,
            )
            if not claimed:  # another check told it meanwhile
                continue
            try:
                await channel.send(message)
            except ChannelError as exc:
                down = str(exc)
            except Exception as exc:  # a bug must not lose the notice either
                down = f"{type(exc).__name__}"
            if down:
                self.store.restore_notice(channel.name, message.key, previous)
                log.warning(
                    "alert channel failed; trying again at the next check",
                    channel=channel.name,
                    notice=event,
                    kind=message.kind,
                    school=message.school,
                    error=down,
                )
                out.append(Delivery(channel.name, event, message.key, message.school, down))
                continue
            log.info(
                "alert sent",
                channel=channel.name,
                notice=event,
                kind=message.kind,
                school=message.school,
            )
            out.append(Delivery(channel.name, event, message.key, message.school))
        return out

    def _message(self, event: str, item: Condition | AlertNotice, now: datetime) -> Message:
        if isinstance(item, Condition):
            return alert_message(
                self.plan,
                kind=item.kind,
                key=item.key,
                school=item.school,
                platform=item.platform,
                since=item.since,
                at=now,
                facts=item.facts,
            )
        return recovery_message(
            self.plan,
            kind=item.kind,
            key=item.key,
            school=item.school,
            platform=item.platform,
            title=item.summary,
            since=item.since,
            at=now,
        )


def item_title(item: Condition | AlertNotice) -> str:
    return item.summary if isinstance(item, AlertNotice) else item.key
