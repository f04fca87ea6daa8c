"""Tolerant models of a platform's own payloads (not of the canonical journal).

Two tolerances, both deliberate, shared by every connector's schema layer:

* **Unknown fields** are kept (``extra="allow"``) and logged once per (model, field) as
  *schema drift*, names only, never values: platforms add and rename fields between versions,
  and a new field must neither break a pull nor go unnoticed.
* **One bad record does not sink its response.** Record lists are parsed item by item; an item
  that fails validation becomes a :class:`Bad` placeholder the mapping quarantines, while its
  siblings are parsed normally. A broken *container* still fails the whole call, as a
  :class:`core.errors.ContractError`.

Every unknown field met, and every missing or retyped field behind a placeholder or a broken
container, is also counted as a :mod:`core.schema_drift` event: in the reader's own
:attr:`PayloadReader.drift` and in the log of the connector being driven, which the pull engine
saves to the store.

A response is read in one call into pydantic's core first (:meth:`PayloadReader._quick`): the
lenient lists read as plain lists and an unknown key is noted as pydantic meets it, so a usual
response costs no Python per item and no walk of the models afterwards. Only a response that
fails there — a bad item, a broken container — is read again the tolerant way above.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, ClassVar, Generic, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import CoreSchema, SchemaValidator
from pydantic_core import core_schema as cs

from core.errors import ContractError
from core.logging import get_logger
from core.schema_drift import DriftKind, DriftLog, note

__all__ = ["Bad", "PayloadReader", "PlatformModel"]

M = TypeVar("M", bound="PlatformModel")
B = TypeVar("B", bound="Bad")


class PlatformModel(BaseModel):
    """Base of a platform payload model: frozen, keeps unknown fields for drift reporting."""

    model_config = ConfigDict(extra="allow", frozen=True)

    #: Documented fields (the platform note, WIRE.md) the connector does not use: not drift.
    KNOWN: ClassVar[frozenset[str]] = frozenset()


class Bad(BaseModel):
    """A record that failed validation: where (``field``), why (``reason``) and the raw item.

    ``reason`` is pydantic's message without the input value, so it can be logged. A connector
    whose records carry their id under other keys subclasses this and sets :attr:`ID_KEYS`.
    """

    model_config = ConfigDict(frozen=True)

    #: Keys tried in turn by :meth:`item_id` when it is given none.
    ID_KEYS: ClassVar[tuple[str, ...]] = ("id",)

    model: str
    field: str
    reason: str
    raw: Any = None

    def raw_get(self, key: str) -> Any:
        """A key of the raw item when it is an object (``None`` otherwise)."""
        return self.raw.get(key) if isinstance(self.raw, dict) else None

    def item_id(self, *keys: str) -> str:
        """The platform id of the bad item: the first readable of ``keys`` (default
        :attr:`ID_KEYS`), "?" when there is none."""
        for key in keys or self.ID_KEYS:
            value = self.raw_get(key)
            if isinstance(value, int | str) and str(value).strip():
                return str(value)
        return "?"


@cache
def _nested_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` whose annotation can hold a payload model (scalars are never
    walked: a payload of thousands of marks has far more scalars than models)."""
    return tuple(name for name, f in model.model_fields.items() if _may_hold_model(f.annotation))


def _may_hold_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    if annotation is Any or isinstance(annotation, TypeVar):
        return True
    return any(_may_hold_model(a) for a in get_args(annotation))


#: The item model of every :meth:`PayloadReader.lenient` list, by its wrap function.
_LENIENT: dict[Callable[..., Any], type[BaseModel]] = {}


def _empty_list(_: None) -> list[Any]:
    return []


def _list_schema(model: type[BaseModel]) -> CoreSchema:
    """The core schema of a plain ``list[model]``."""
    return TypeAdapter(list[model]).core_schema  # type: ignore[valid-type]


class PayloadReader(Generic[B]):
    """One connector's parsing entry points and its drift memory.

    ``platform`` prefixes messages; ``bad`` is the connector's :class:`Bad` class (its list
    fields are annotated with it, so it is the one this reader builds). Each reader remembers
    its own reported (model, field) pairs: two platforms may both have a model named ``Child``.
    """

    def __init__(self, platform: str, *, bad: type[B], logger: Any = None) -> None:
        self.platform = platform
        self.bad = bad
        self._log = logger if logger is not None else get_logger(__name__)
        self._reported: set[tuple[str, str]] = set()
        #: Every drift event this reader met (all connectors of the platform in this process).
        self.drift = DriftLog()
        #: The one-call validators of :meth:`_quick`, by what they read.
        self._quick_validators: dict[object, SchemaValidator] = {}
        #: (model, key) of each unknown key met by the current :meth:`_quick` call.
        self._met: list[tuple[str, str]] = []

    def _note(self, model: str, field: str, kind: DriftKind, n: int = 1) -> None:
        self.drift.add(self.platform, model, field, kind, n)
        note(self.platform, model, field, kind, n)

    def note_errors(self, model: type[BaseModel], exc: ValidationError, raw: Any = None) -> None:
        """Count a validation failure's fields as missing (absent) or retyped (anything else:
        wrong type, unparsable value, a value outside the documented set), and the failed
        item's unknown keys as unknown: a renamed field is both, and shows as such."""
        found: set[tuple[str, DriftKind]] = set()  # a union's members fail once each: one
        for err in exc.errors(include_url=False, include_input=False, include_context=False):
            kind = DriftKind.MISSING if err["type"] == "missing" else DriftKind.RETYPED
            found.add((_field_path(err["loc"]), kind))
        if isinstance(raw, dict) and issubclass(model, PlatformModel):
            expected = model.model_fields.keys() | model.KNOWN
            found.update((_as_name(str(k)), DriftKind.UNKNOWN) for k in raw if k not in expected)
        for path, kind in sorted(found):
            self._note(model.__name__, path, kind)

    def bad_from(self, model: type[BaseModel], raw: Any, exc: ValidationError) -> B:
        """The placeholder for ``raw``, from the first validation error (input left out)."""
        first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(record)"
        return self.bad(model=model.__name__, field=loc, reason=first["msg"], raw=raw)

    def lenient(self, model: type[BaseModel]) -> WrapValidator:
        """A validator for a list field: items one by one, failures become placeholders;
        ``null`` reads as an empty list.

        The whole list is validated at once first (one call into pydantic's core, the usual
        case); only a list with a bad item is walked item by item, to keep its good ones. The
        list it returns is final: pydantic does not walk it again for the field's own type.
        """
        whole: TypeAdapter[list[Any]] = TypeAdapter(list[model])  # type: ignore[valid-type]
        validate = whole.validator.validate_python  # pydantic's core, without the adapter's wrapper

        def split(value: Any, field_type: ValidatorFunctionWrapHandler) -> Any:
            if value is None:
                return []
            if not isinstance(value, list):
                return field_type(value)  # a non-list container: pydantic fails it
            try:
                return validate(value)
            except ValidationError:
                pass
            out: list[Any] = []
            for item in value:
                try:
                    out.append(model.model_validate(item))
                except ValidationError as exc:
                    self.note_errors(model, exc, item)
                    out.append(self.bad_from(model, item, exc))
            return out

        _LENIENT[split] = model
        return WrapValidator(split)

    def report_drift(self, obj: BaseModel) -> None:
        """Count each model's unknown fields as drift and log them once per reader (names
        only), then its children's. A loop over a stack, not recursion: a payload holds
        thousands of models, and nearly all of them have no unknown field."""
        todo: list[Any] = [obj]
        pop, push = todo.pop, todo.append
        while todo:
            value = pop()
            if isinstance(value, PlatformModel) or value is obj:
                model: BaseModel = value
                extra = model.__pydantic_extra__
                # The usual case has none, or only fields the model knows of (KNOWN).
                known: frozenset[str] = getattr(model, "KNOWN", frozenset())
                if extra and not extra.keys() <= known:
                    self._unknown(type(model).__name__, [k for k in extra if k not in known])
                for field_name in _nested_fields(type(model)):
                    push(getattr(model, field_name))
            elif isinstance(value, list | tuple):
                todo.extend(value)
            elif isinstance(value, dict):
                todo.extend(value.values())

    def _unknown(self, name: str, keys: Iterable[str]) -> None:
        """Count the unknown ``keys`` met in models called ``name`` (one per model met) and log
        the new ones."""
        met = Counter(keys)
        named: Counter[str] = Counter()
        for k, n in met.items():
            named[_as_name(k)] += n
        for field_name, n in named.items():
            self._note(name, field_name, DriftKind.UNKNOWN, n)
        new = sorted(k for k in met if (name, k) not in self._reported)
        if new:
            self._reported.update((name, k) for k in new)
            self._log.warning(
                f"{self.platform} schema drift: unknown fields", model=name, fields=new
            )

    def _quick(self, key: object, schema: Callable[[], CoreSchema], data: Any) -> Any:
        """``data`` read in one call into pydantic's core (see the module's doc), the unknown
        keys it met counted as drift; raises ValidationError where the tolerant reading must
        decide (nothing is counted then). ``schema``: what ``key`` reads, the usual way."""
        validator = self._quick_validators.get(key)
        if validator is None:
            built: list[type[BaseModel]] = []
            quick = self._quick_schema(schema(), built)
            # pydantic's core reuses a finished model's own validator wherever its schema names
            # the class, which would drop the changes above: for the build only, the models
            # read as unfinished (their own validators are untouched).
            complete = [(cls, cls.__dict__.get("__pydantic_complete__", False)) for cls in built]
            for cls, _ in complete:
                cls.__pydantic_complete__ = False
            try:
                validator = SchemaValidator(quick)
            finally:
                for cls, was in complete:
                    cls.__pydantic_complete__ = was
            self._quick_validators[key] = validator
        met = self._met
        met.clear()
        out = validator.validate_python(data)
        if met:
            by_model: dict[str, list[str]] = {}
            for name, k in met:
                by_model.setdefault(name, []).append(k)
            met.clear()
            for name, keys in by_model.items():
                self._unknown(name, keys)
        return out

    def _quick_schema(self, schema: Any, built: list[type[BaseModel]]) -> Any:
        """``schema`` with each lenient list a plain list of its model (``null`` still reads as
        an empty list) and each payload model's unknown keys noted in :attr:`_met`; the payload
        models met are added to ``built``."""
        if isinstance(schema, list):
            return [self._quick_schema(v, built) for v in schema]
        if not isinstance(schema, dict):
            return schema
        kind, function = schema.get("type"), schema.get("function")
        if (
            kind == "function-wrap"
            and isinstance(function, dict)
            and function["function"] in _LENIENT
        ):
            inner = schema["schema"]  # list[model | bad]: the model is the union's first choice
            items = self._quick_schema(inner["items_schema"]["choices"][0], built)
            null = cs.chain_schema(
                [cs.none_schema(), cs.no_info_plain_validator_function(_empty_list)]
            )
            return cs.union_schema([{**inner, "items_schema": items}, null], mode="left_to_right")
        out = {k: self._quick_schema(v, built) for k, v in schema.items()}
        cls = out.get("cls")
        if kind == "model" and isinstance(cls, type) and issubclass(cls, BaseModel):
            built.append(cls)
        if kind == "model" and isinstance(cls, type) and issubclass(cls, PlatformModel):
            met = self._met
            name = cls.__name__

            def unknown(key: str) -> str:
                met.append((name, key))
                return key

            keys: CoreSchema = cs.no_info_plain_validator_function(unknown)
            if cls.KNOWN:  # documented keys are matched in pydantic's core, not in Python
                known = cs.literal_schema(sorted(cls.KNOWN))
                keys = cs.union_schema([known, keys], mode="left_to_right")
            out["schema"] = {**out["schema"], "extras_keys_schema": keys}
        return out

    def parse(self, model: type[M], data: Any, *, what: str) -> M:
        """Validate one response; a container-level failure is a broken contract."""
        try:
            return self._quick(model, lambda: model.__pydantic_core_schema__, data)  # type: ignore[no-any-return]
        except ValidationError:
            pass
        try:
            obj = model.model_validate(data)
        except ValidationError as exc:
            self.note_errors(model, exc)
            bad = self.bad_from(model, None, exc)
            raise ContractError(
                f"{self.platform} {what}: unexpected response shape ({bad.field}: {bad.reason})"
            ) from None
        self.report_drift(obj)
        return obj

    def parse_list(self, model: type[M], data: Any, *, what: str) -> list[M | B]:
        """Validate a top-level JSON array item by item (bad items become placeholders)."""
        if not isinstance(data, list):
            self._note(model.__name__, "(response)", DriftKind.RETYPED)
            raise ContractError(f"{self.platform} {what}: expected a JSON array")
        try:
            return self._quick((list, model), lambda: _list_schema(model), data)  # type: ignore[no-any-return]
        except ValidationError:
            pass
        out: list[M | B] = []
        for item in data:
            try:
                obj = model.model_validate(item)
            except ValidationError as exc:
                self.note_errors(model, exc)
                out.append(self.bad_from(model, item, exc))
                continue
            self.report_drift(obj)
            out.append(obj)
        return out

    def reset_drift_reports(self) -> None:
        """Forget what was reported and counted (tests)."""
        self._reported.clear()
        self.drift.clear()


#: Parts of a pydantic error location that name a union member or a validator, not a field.
_TAGS = frozenset({"int", "str", "float", "bool", "list", "dict", "date", "datetime", "none"})


#: What a field name looks like; anything else as a key (an id, a date, a name keying a map)
#: is data, and the drift table keeps names only.
_NAME = re.compile(r"[A-Za-z_$@][A-Za-z0-9_$@\-]*")


def _as_name(key: str) -> str:
    return key if _NAME.fullmatch(key) else "(key)"


def _field_path(loc: tuple[int | str, ...]) -> str:
    """``("marks", 3, "value", "int")`` → ``"marks.value"``: field names only (list indexes,
    union member tags and map keys that are data dropped), so one field is one drift key
    however many items broke."""
    parts = [p for p in loc if isinstance(p, str) and p not in _TAGS and _NAME.fullmatch(p)]
    return ".".join(parts) or "(record)"
