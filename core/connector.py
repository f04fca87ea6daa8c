"""The contract between the sync engine and a platform connector (DESIGN.md §5).

A connector is an async context manager owning one ``httpx.AsyncClient``. The engine calls:

* :meth:`Connector.login` — authenticate (raises :class:`core.errors.AuthError` on bad credentials);
* :meth:`Connector.pull` — an async iterator of :class:`Page`. Each page is one *scope* (e.g. one
  class × subject × term journal) and carries every canonical record of that scope, the records
  it had to quarantine, and the stream cursor *after* this page. The engine commits a page's
  records and its cursor in one transaction, and replaces the scope: a remote record of that
  scope missing from the page is marked deleted. So a crash between pages loses nothing and
  duplicates nothing, and a resumed pull skips the pages its cursor says are done.
* :meth:`Connector.push` — send changes through the ``api`` channel, idempotently;
* :meth:`Connector.read_back` — read the platform's current version of changed records, for
  verification;
* :meth:`Connector.sample` — a few pages of each stream, for ``journalsync doctor``;
* :meth:`Connector.schema_drift` — the unknown, missing and retyped payload fields met while
  running under :meth:`Connector.drift_scope` (the engine saves them to the store).

A connector takes the school's :class:`SchoolTarget` (with its platform's typed
:class:`PlatformOptions`) and, as constructor arguments, what the running process decides: the
HTTP settings, a clock and a fixed ``today`` (tests, replays). Platforms are found by name
through their descriptors (:mod:`core.platform`, entry point group ``journalsync.platforms``),
so adding a platform touches no existing package (``docs/adding-a-platform.md``).
"""

from __future__ import annotations

import abc
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal, Self, TypeVar
from zoneinfo import ZoneInfo

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import (
    AuthError,
    ConfigError,
    CredentialsExpired,
    JournalSyncError,
    UnsupportedOperation,
)
from core.http import HttpSettings
from core.model import Record
from core.schema_drift import DriftEvent, DriftLog, collecting
from core.translation import MigrationTable

__all__ = [
    "AccountOutcome",
    "AccountState",
    "Capabilities",
    "Change",
    "ChannelCapability",
    "Connector",
    "Credentials",
    "EntryTime",
    "EntryTimeKind",
    "Page",
    "PlatformOptions",
    "PullMode",
    "PupilSeen",
    "PushChannel",
    "PushOutcome",
    "Quarantined",
    "Sample",
    "SchoolTarget",
    "StreamSample",
    "first_seen_everywhere",
    "hand_entry_channels",
]


class PushChannel(StrEnum):
    API = "api"  # the platform's own write endpoints
    WORKLIST = "worklist"  # a per-teacher list of entries to make by hand
    PACKAGE = "package"  # a bulk import package for the platform operator


@dataclass(frozen=True, slots=True)
class ChannelCapability:
    channel: PushChannel
    entities: frozenset[str]
    #: What the channel rests on, honestly: "verified on a live server", "evidenced by the
    #: platform's own web client, not verified on a live server", "modelled, no evidence".
    evidence: str
    verified: bool = False


def hand_entry_channels(
    *,
    worklist: Iterable[str],
    package: Iterable[str],
    worklist_evidence: str,
    package_evidence: str,
) -> tuple[ChannelCapability, ChannelCapability]:
    """The push channels of a platform with no known write API: a worklist entered by hand and
    a package for the platform's operator — both modelled, neither verified on a live server."""
    return (
        ChannelCapability(PushChannel.WORKLIST, frozenset(worklist), worklist_evidence),
        ChannelCapability(PushChannel.PACKAGE, frozenset(package), package_evidence),
    )


class EntryTimeKind(StrEnum):
    """How the moment a value was entered on the platform can be known."""

    PLATFORM = "platform timestamp"  # the platform's own creation/change time
    FIRST_SEEN = "first seen by a pull"  # an upper bound: the pull that first saw it
    NOT_OBSERVABLE = "not observable"  # nothing bounds it (e.g. shown only later)


@dataclass(frozen=True, slots=True)
class EntryTime:
    """Whether and how precisely the entry time of one entity's values is observable.

    ``note`` says why, from the platform note (English); ``note_ru`` is what a compliance
    report prints when a timing rule cannot be checked or is checked only in part.
    """

    kind: EntryTimeKind
    note: str = ""
    note_ru: str = ""

    @property
    def observable(self) -> bool:
        return self.kind is not EntryTimeKind.NOT_OBSERVABLE


#: Timed entities whose values every connector reads through pulls only.
FIRST_SEEN_NOTE_RU = (
    "время ввода известно лишь как момент, когда синхронизация впервые увидела запись: "
    "точность равна промежутку между загрузками"
)


def first_seen_everywhere(
    entities: Iterable[str], **overrides: EntryTime
) -> Mapping[str, EntryTime]:
    """``entry_time`` for a platform that exposes no entry timestamps: every entity is "first
    seen by a pull", except ``overrides``."""
    base = {
        e: EntryTime(
            EntryTimeKind.FIRST_SEEN,
            "the platform shows no entry time; the sync's first sighting bounds it",
            FIRST_SEEN_NOTE_RU,
        )
        for e in entities
    }
    return {**base, **overrides}


@dataclass(frozen=True, slots=True)
class Capabilities:
    platform: str
    #: Entities a pull yields.
    reads: frozenset[str]
    #: Per entity, canonical fields the platform cannot carry (always default after a pull).
    fields_not_carried: Mapping[str, frozenset[str]] = field(default_factory=dict)
    push: tuple[ChannelCapability, ...] = ()
    #: Free text a person reads: limits, guesses, what was never verified.
    notes: str = ""
    #: Per entity, whether the time a value was entered is observable and how precisely
    #: (absent: unknown, treated as "first seen by a pull").
    entry_time: Mapping[str, EntryTime] = field(default_factory=dict)
    #: Family-account platforms (Russian, for reports): why a pull sees only part of the
    #: school's journal; empty when a pull sees the whole school.
    partial_view: str = ""
    #: What a write to the platform changes or refuses, with the reason (a migration's
    #: explained differences, :mod:`core.translation`).
    migration: MigrationTable = field(default_factory=MigrationTable)

    def channel(self, channel: PushChannel) -> ChannelCapability | None:
        return next((c for c in self.push if c.channel == channel), None)

    def channels_for(self, entity: str) -> tuple[PushChannel, ...]:
        """The channels offered for ``entity``, in the order the connector declares them (the
        first is the one used when nothing else is asked for)."""
        return tuple(c.channel for c in self.push if entity in c.entities)


@dataclass(frozen=True, slots=True)
class Credentials:
    """Login material. ``repr`` never shows the secret."""

    login: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)


class PlatformOptions(BaseModel):
    """A platform's own settings, from a school's ``options`` table in the config.

    Each platform subclasses it with its typed keys; an unknown key is an error (a typo must
    not be ignored). What the running process decides — HTTP settings, clock, ``today`` — is
    not an option: the connector takes those as constructor arguments.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def of(cls, raw: BaseModel | Mapping[str, Any] | None) -> Self:
        """``raw`` as this model: as is when it already is one, else validated (a
        :class:`ConfigError` names each bad key and says why)."""
        if isinstance(raw, cls):
            return raw
        data = raw.model_dump(exclude_unset=True) if isinstance(raw, BaseModel) else raw
        try:
            return cls.model_validate(dict(data or {}))
        except ValidationError as exc:
            raise ConfigError(
                "options: " + "; ".join(_option_errors(exc)),
                hint="the keys each platform takes are in its PLATFORM.options model",
            ) from None


def _option_errors(exc: ValidationError) -> list[str]:
    """``key: reason`` for each error of a :class:`PlatformOptions` validation."""
    out: list[str] = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(options)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown option (a typo, or a key this platform does not take)"
        out.append(f"{key}: {msg}")
    return out


@dataclass(frozen=True, slots=True)
class SchoolTarget:
    """One school on one platform: where it is and how to log in."""

    school: str  # canonical school slug
    platform: str
    base_url: str
    credentials: Credentials
    #: The platform's own school id or name (NetSchool: the school name searched for).
    platform_school: str = ""
    #: The school's configured IANA zone; ``None``: the platform's default
    #: (:attr:`Connector.default_timezone`).
    timezone: str | None = None
    #: The platform's typed options (a mapping is validated by the connector).
    options: PlatformOptions | Mapping[str, Any] = field(default_factory=dict)
    #: More accounts, for platforms whose API shows one family's data per account (student or
    #: parent APIs): a school pull visits each and merges what they see.
    accounts: tuple[Credentials, ...] = ()

    @property
    def all_accounts(self) -> tuple[Credentials, ...]:
        return (self.credentials, *self.accounts)


@dataclass(frozen=True, slots=True)
class PupilSeen:
    """A pupil a family account showed: canonical person id, full name, class name."""

    id: str
    name: str
    class_name: str = ""


#: What one family account did in a pull: ``ok``, ``rejected`` (the platform refused its
#: password or token) or ``expired`` (its token ran out and could not be renewed).
AccountState = Literal["ok", "rejected", "expired"]


@dataclass(frozen=True, slots=True)
class AccountOutcome:
    """One family account's outcome in a pull and the pupils it showed (never a secret)."""

    login: str
    state: AccountState
    pupils: tuple[PupilSeen, ...] = ()
    #: Why it failed, in words without the secret (the platform's message, redacted).
    detail: str = ""


class PullMode(StrEnum):
    FULL = "full"  # every scope of the year
    INCREMENTAL = "incremental"  # scopes that may have changed since the cursor


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A record that could not be taken. ``record`` is a platform reference, never personal data."""

    entity: str
    record: str
    field: str
    reason: str
    payload: Any = None


@dataclass(slots=True)
class Page:
    stream: str
    scope: str
    records: list[Record]
    cursor: dict[str, Any]
    quarantine: list[Quarantined] = field(default_factory=list)
    #: Entities whose records of this scope are all in ``records`` (scope replacement applies
    #: to these only).
    complete_for: frozenset[str] = frozenset()
    #: Family-account platforms (one family's view per account): group id → the pupils the
    #: accounts see in it now (empty: the whole class). Scope replacement then keeps what the
    #: accounts can no longer see — a group none lists, its lessons and homework, a pupil's
    #: marks and absences in a group the pupil has left — instead of deleting it: losing sight
    #: of a record is not its deletion. ``None``: the page sees the whole scope.
    visible_members: Mapping[str, frozenset[str]] | None = None
    #: Family-account pages: every pupil the pull's accounts show (set by the sync from
    #: :attr:`Connector.account_outcomes`). A pupil outside it — an account removed or refused —
    #: is out of sight: its person, enrollment, marks and absences are kept, not deleted.
    seen_pupils: frozenset[str] | None = None


@dataclass(slots=True)
class StreamSample:
    """What :meth:`Connector.sample` read of one stream: its first page, how many pages,
    records and quarantined records were read, and the drift events noted meanwhile."""

    stream: str
    page: Page
    pages: int = 1
    records: int = 0
    quarantined: int = 0
    drift: list[DriftEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Change:
    """One outbox item handed to a connector."""

    key: str  # idempotency key
    op: Literal["upsert", "delete"]
    record: Record
    #: Platform ids of the records this one refers to, by canonical id (the ``external_ids`` of
    #: their remote provenance): e.g. a mark's lesson id → ``{"cmId": "…", "sgId": "…"}``.
    #: The engine fills it from the remote snapshot.
    refs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PushOutcome:
    key: str
    ok: bool
    message: str = ""
    retriable: bool = False
    external_id: str | None = None


class Connector(abc.ABC):
    """Base class of platform connectors."""

    platform: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    #: The zone the platform's schools are in when the config names none.
    default_timezone: ClassVar[str] = "Europe/Moscow"
    #: The platform's options model (``extra="forbid"``).
    options_model: ClassVar[type[PlatformOptions]] = PlatformOptions

    def __init__(
        self,
        target: SchoolTarget,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        state: Mapping[str, Any] | None = None,
        save_state: Callable[[Mapping[str, Any]], None] | None = None,
        http: HttpSettings | None = None,
        clock: Callable[[], float] | None = None,
        today: date | None = None,
    ) -> None:
        """``http``: transport tuning (``None``: the connector's default); ``clock``: epoch
        seconds, for token lifetimes; ``today``: a fixed local date (tests, replays)."""
        self.target = target
        self.options: PlatformOptions = self.options_model.of(target.options)
        self.http = http
        self.clock: Callable[[], float] = clock or time.time
        self._today = today
        self._transport = transport
        #: Connector state the engine keeps between runs (e.g. a rotated refresh token). The
        #: store keeps it encrypted at rest.
        self.state: dict[str, Any] = dict(state or {})
        self._save_state = save_state
        self._drift = DriftLog()
        #: True while :meth:`sample` runs: :meth:`sampled` then keeps a few scopes per stream.
        self.sampling = False
        #: Family-account platforms: each account's outcome in this pull, by login (see
        #: :meth:`note_account`); the sync records them and checks the school's coverage.
        self.account_outcomes: dict[str, AccountOutcome] = {}

    def note_account(
        self,
        login: str,
        state: AccountState,
        pupils: Iterable[PupilSeen] = (),
        detail: str = "",
    ) -> None:
        """Record what one family account did in this pull: its state and the pupils it showed.

        A connector reading through family accounts calls it for every account it tried; the
        sync then knows which pupils of the school's roster the pull could read.
        """
        self.account_outcomes[login] = AccountOutcome(login, state, tuple(pupils), detail)

    def note_refused(self, login: str, exc: AuthError) -> None:
        """Record a family account the platform refused: ``expired`` when it said the token or
        session ran out (:class:`~core.errors.CredentialsExpired`), else ``rejected``."""
        state: AccountState = "expired" if isinstance(exc, CredentialsExpired) else "rejected"
        self.note_account(login, state, detail=exc.message)

    @property
    def timezone(self) -> str:
        """The school's configured zone, else the platform's default — the one rule."""
        return self.target.timezone or self.default_timezone

    def http_settings(self, default: HttpSettings | None = None) -> HttpSettings:
        """The HTTP settings given to the constructor, else ``default``, else the defaults."""
        return self.http or default or HttpSettings()

    def today(self) -> date:
        """The fixed ``today`` given to the constructor, or today's date in the school's zone
        (platforms file lessons by local date)."""
        if self._today is not None:
            return self._today
        return datetime.now(UTC).astimezone(ZoneInfo(self.timezone)).date()

    def persist_state(self) -> None:
        """Save :attr:`state` now. Call it right after a platform rotates a token: the old one
        is dead, so a crash before saving would lock the school out."""
        if self._save_state is not None:
            self._save_state(dict(self.state))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:  # noqa: B027 — optional hook
        """Release the HTTP client and log out where the platform wants it."""

    @abc.abstractmethod
    async def login(self) -> None:
        """Authenticate; raise :class:`core.errors.AuthError` on bad credentials."""

    @abc.abstractmethod
    def pull(
        self, cursors: Mapping[str, Mapping[str, Any]], mode: PullMode = PullMode.FULL
    ) -> AsyncIterator[Page]:
        """Yield the school's journal page by page (see the module docstring)."""

    async def push(self, changes: Sequence[Change]) -> list[PushOutcome]:
        """Send changes through the ``api`` channel; safe to call again with the same keys."""
        raise UnsupportedOperation(
            f"{self.platform}: no write API is known; use the worklist or package channel"
        )

    async def read_back(self, changes: Sequence[Change]) -> dict[str, Record | None]:
        """The platform's current version of each changed record (by id); ``None`` where absent."""
        raise UnsupportedOperation(f"{self.platform}: read-back is not offered")

    # --- schema drift and sampling ----------------------------------------------------------

    @contextmanager
    def drift_scope(self) -> Iterator[DriftLog]:
        """Collect the schema drift the platform's payload readers note in this context (and
        the tasks it starts) into this connector's log."""
        with collecting(self._drift) as log:
            yield log

    def schema_drift(self, *, clear: bool = False) -> list[DriftEvent]:
        """The unknown, missing and retyped fields met so far (names and counts, no values);
        ``clear`` forgets them once read, so that saving them twice does not count twice.
        A connector whose schema layer notes no drift returns none."""
        events = self._drift.events()
        if clear:
            self._drift.clear()
        return events

    #: Scopes of a stream :meth:`sample` reads: one scope may hold nothing to check (a grade-1
    #: journal has no marks, the year's first week no entries), a few spread ones rarely all do.
    SAMPLE_SCOPES: ClassVar[int] = 3

    def sampled(self, scopes: Sequence[T], prefer: Callable[[T], Any] | None = None) -> Sequence[T]:
        """The scopes of a stream a pull visits: all of them, or while :meth:`sample` runs
        :attr:`SAMPLE_SCOPES` of them — the least by ``prefer`` (e.g. the weeks nearest today)
        or, without it, the first, middle and last. A connector passes each stream's scopes
        through this so that sampling reads a few scopes per stream, not the whole journal."""
        n = self.SAMPLE_SCOPES
        if not self.sampling or len(scopes) <= n:
            return scopes
        if prefer is not None:
            return sorted(scopes, key=prefer)[:n]
        picks = sorted({round(i * (len(scopes) - 1) / (n - 1)) for i in range(n)}) if n > 1 else [0]
        return [scopes[i] for i in picks]

    async def sample(self, *, max_pages: int = 20) -> Sample:
        """A few pages of each stream, nothing committed (``journalsync doctor``).

        Walks a full pull from no cursor and keeps the first page of each stream, with the
        drift events noted while that stream's pages were read. A connector that passes its
        scopes through :meth:`sampled` reads a few scopes per stream; any other is stopped after
        ``max_pages`` pages (a stream that comes later is then not sampled). A journalsync
        error ends the sample and is kept in it, with the streams sampled before it.
        """
        out = Sample()
        self.sampling = True
        try:
            with self.drift_scope() as log:
                before = log.counts()

                def added() -> list[DriftEvent]:
                    nonlocal before
                    now = log.counts()
                    keys = {k for k, c in now.items() if c != before.get(k)}
                    before = now
                    return [e for e in log.events() if _key(e) in keys]

                pages = self.pull({}, PullMode.FULL)
                try:
                    async for page in pages:
                        seen = out.streams.get(page.stream)
                        if seen is None:
                            seen = out.streams[page.stream] = StreamSample(page.stream, page, 0)
                        seen.pages += 1
                        seen.records += len(page.records)
                        seen.quarantined += len(page.quarantine)
                        seen.drift = _merged(seen.drift, added())
                        out.pages += 1
                        if out.pages >= max_pages:
                            out.truncated = True
                            break
                except JournalSyncError as exc:
                    out.error = exc
                    out.error_drift = added()
                finally:
                    # An abandoned pull releases what it holds now, not at garbage collection.
                    aclose = getattr(pages, "aclose", None)
                    if aclose is not None:
                        await aclose()
        finally:
            self.sampling = False
        return out


T = TypeVar("T")


@dataclass(slots=True)
class Sample:
    """What :meth:`Connector.sample` read: the streams in the order met, the pages read,
    whether the page budget stopped it, and the error that ended it (with the drift noted
    since the last good page)."""

    streams: dict[str, StreamSample] = field(default_factory=dict)
    pages: int = 0
    truncated: bool = False
    error: JournalSyncError | None = None
    error_drift: list[DriftEvent] = field(default_factory=list)


def _key(e: DriftEvent) -> tuple[str, str, str, str]:
    return (e.platform, e.model, e.field, e.kind)


def _merged(had: list[DriftEvent], new: list[DriftEvent]) -> list[DriftEvent]:
    got = {_key(e): e for e in had}
    got.update((_key(e), e) for e in new)
    return [got[k] for k in sorted(got)]
