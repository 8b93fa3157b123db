"""Typed fields: one validator for action parameters and for object properties.

Values are normalised to what is stored as JSON: money and integers as ``int``, numbers as
``int`` or ``float``, datetimes as ISO 8601 strings in UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
import math
from typing import Any

from .errors import ValidationError

KINDS = frozenset(
    {"string", "integer", "number", "money", "boolean", "datetime", "list", "mapping", "records"}
)
# Bounds every value meets whatever its field says, so that SQLite and PostgreSQL (and the JSON
# both store properties as) take or refuse the same values, and refuse them here, translated:
MAX_TEXT = 10_000  # characters of one text
MAX_MAGNITUDE = 10**15  # of a whole number, an amount of money or a number
MAX_ITEMS = 10_000  # entries of one free-form list or mapping
MAX_DEPTH = 16  # lists and mappings inside one another
EARLIEST_YEAR, LATEST_YEAR = 1970, 2199  # of a date and time
# what a schema's property may be ("records" is for action parameters only)
DEFINABLE_KINDS = KINDS - {"records"}
NUMERIC_KINDS = frozenset({"integer", "number", "money"})


@dataclass(frozen=True, kw_only=True)
class Field:
    """How one parameter or property is typed and bounded."""

    kind: str
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    # kind "records": a list of mappings, each validated against these fields
    fields: Mapping[str, Field] = field(default_factory=dict)
    min_items: int = 0
    # schema-only attributes
    managed_by: str | None = None
    personal: bool = False

    @classmethod
    def from_dict(cls, name: str, raw: Any, *, repaired: list[str] | None = None) -> Field:
        """Build a field from its schema form (as in default_schema.yaml), every attribute
        checked: a definition that could not work is refused, naming the attribute.

        With ``repaired`` (a definition stored by an older CareOn, which must still load) an
        attribute that could not work is left out instead, and named in that list.
        """

        def bad(attribute: str, error: ValidationError) -> None:
            if repaired is None:
                raise error
            repaired.append(f"{name}.{attribute}")

        # Never repaired: no CareOn stored these, and an unknown kind may be a newer CareOn's,
        # whose values this one must not take for something else.
        if not isinstance(raw, Mapping):
            raise ValidationError("invalid_type", field=name, expected="mapping")
        kind = raw.get("kind")
        if kind not in DEFINABLE_KINDS:
            raise ValidationError(
                "invalid_choice",
                field=f"{name}.kind",
                value=kind,
                choices=", ".join(sorted(DEFINABLE_KINDS)),
            )
        attributes: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "kind":
                continue
            if key not in _ATTRIBUTE_CHECKS:
                bad(key, ValidationError("unknown_field", field=f"{name}.{key}"))
                continue
            try:
                attributes[key] = _ATTRIBUTE_CHECKS[key](f"{name}.{key}", kind, value)
            except ValidationError as err:
                bad(key, err)
        low, high = attributes.get("min"), attributes.get("max")
        if low is not None and high is not None and low > high:
            bad(
                "max",
                ValidationError(
                    "out_of_range", field=f"{name}.max", value=high, limit=f">= {low:g}"
                ),
            )
            del attributes["max"]
        built = cls(
            kind=kind,
            required=attributes.get("required", False),
            min=attributes.get("min"),
            max=attributes.get("max"),
            choices=attributes.get("choices"),
            managed_by=attributes.get("managed_by"),
            personal=attributes.get("personal", False),
        )
        if (default := attributes.get("default")) is not None:
            try:
                # a default the field itself would refuse breaks every object created without it
                default = validate_value(f"{name}.default", built, default)
            except ValidationError as err:
                bad("default", err)
                default = None
        return replace(built, default=default)

    def to_dict(self) -> dict[str, Any]:
        """The schema form of this field, for storage and diagnostics."""
        out: dict[str, Any] = {"kind": self.kind}
        for key in ("default", "min", "max", "managed_by"):
            if (value := getattr(self, key)) is not None:
                out[key] = value
        if self.required:
            out["required"] = True
        if self.choices:
            out["choices"] = list(self.choices)
        if self.personal:
            out["personal"] = True
        return out


def validate_fields(
    specs: Mapping[str, Field],
    data: Mapping[str, Any] | None,
    *,
    prefix: str = "",
    partial: bool = False,
    tz: tzinfo | None = None,
) -> dict[str, Any]:
    """Validate a mapping against field specs; return the normalised mapping.

    ``partial`` skips required/default handling (updates); a ``None`` value then means
    "remove this property" and is kept as ``None`` for the caller to act on.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValidationError(
            "invalid_type", field=prefix.rstrip(".") or "data", expected="mapping"
        )
    for key in data:
        if key not in specs:
            raise ValidationError("unknown_field", field=f"{prefix}{key}")
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        path = f"{prefix}{name}"
        if name in data and data[name] is not None:
            out[name] = validate_value(path, spec, data[name], tz=tz)
        elif partial:
            if name in data:
                if spec.required:
                    raise ValidationError("missing_field", field=path)
                out[name] = None
        elif spec.required:
            raise ValidationError("missing_field", field=path)
        elif spec.default is not None:
            out[name] = spec.default
    return out


def validate_value(path: str, spec: Field, value: Any, *, tz: tzinfo | None = None) -> Any:
    """Check one value against its field; return it normalised."""
    kind = spec.kind
    result: Any
    if kind == "string":
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("invalid_type", field=path, expected="text")
        result = check_text(path, value.strip())
    elif kind in ("integer", "money"):
        result = _bounded(path, _as_int(path, value, expected="whole number"))
    elif kind == "number":
        result = _bounded(path, _as_number(path, value))
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise ValidationError("invalid_type", field=path, expected="true/false")
        result = value
    elif kind == "datetime":
        result = _as_datetime(path, value, tz)
    elif kind == "list":
        if not isinstance(value, list | tuple):
            raise ValidationError("invalid_type", field=path, expected="list")
        result = _check_nested(path, list(value))
    elif kind == "mapping":
        if not isinstance(value, Mapping):
            raise ValidationError("invalid_type", field=path, expected="mapping")
        result = _check_nested(path, dict(value))
    else:  # records
        if not isinstance(value, list | tuple):
            raise ValidationError("invalid_type", field=path, expected="list")
        result = [
            validate_fields(spec.fields, item, prefix=f"{path}[{index}].", tz=tz)
            for index, item in enumerate(value)
        ]
    if spec.choices is not None and result not in spec.choices:
        raise ValidationError(
            "invalid_choice", field=path, value=result, choices=", ".join(spec.choices)
        )
    if isinstance(result, int | float) and not isinstance(result, bool):
        if spec.min is not None and result < spec.min:
            raise ValidationError(
                "out_of_range", field=path, value=result, limit=f">= {spec.min:g}"
            )
        if spec.max is not None and result > spec.max:
            raise ValidationError(
                "out_of_range", field=path, value=result, limit=f"<= {spec.max:g}"
            )
    if isinstance(result, list) and len(result) < spec.min_items:
        raise ValidationError("empty_list", field=path)
    return result


def check_text(path: str, text: str, longest: int = MAX_TEXT) -> str:
    """A text both databases store as it is: no NUL, no lone surrogate (half of a UTF-16 pair,
    which no UTF-8 can hold), at most ``longest`` characters."""
    if len(text) > longest:
        raise ValidationError(
            "out_of_range", field=path, value=f"{len(text)} characters", limit=f"<= {longest}"
        )
    if "\0" in text:
        raise ValidationError("invalid_type", field=path, expected="text without NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("invalid_type", field=path, expected="valid Unicode text") from None
    return text


def _bounded(path: str, value: int | float) -> int | float:
    if abs(value) > MAX_MAGNITUDE:
        raise ValidationError("out_of_range", field=path, value=value, limit=f"±{MAX_MAGNITUDE:g}")
    return value


def _check_nested(path: str, value: Any, depth: int = 0, root: str | None = None) -> Any:
    """A free-form list or mapping as JSON stores it alike everywhere: texts as ``check_text``,
    finite numbers within MAX_MAGNITUDE, text keys, at most MAX_ITEMS entries and MAX_DEPTH
    levels (those two name ROOT, the parameter); returned as it is."""
    root = root or path
    if isinstance(value, str):
        check_text(path, value)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError("invalid_type", field=path, expected="a finite number")
        _bounded(path, value)
    elif isinstance(value, list | tuple | Mapping):
        if depth >= MAX_DEPTH:
            raise ValidationError(
                "out_of_range", field=root, value=f"{depth + 1} levels", limit=f"<= {MAX_DEPTH}"
            )
        if len(value) > MAX_ITEMS:
            raise ValidationError(
                "out_of_range", field=root, value=f"{len(value)} entries", limit=f"<= {MAX_ITEMS}"
            )
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValidationError("invalid_type", field=path, expected="text keys")
                check_text(f"{path}.{key}"[:200], key)
                _check_nested(f"{path}.{key}"[:200], item, depth + 1, root)
        else:
            for index, item in enumerate(value):
                _check_nested(f"{path}[{index}]", item, depth + 1, root)
    else:
        raise ValidationError("invalid_type", field=path, expected="JSON data")
    return value


def _as_int(path: str, value: Any, *, expected: str) -> int:
    if isinstance(value, bool):
        raise ValidationError("invalid_type", field=path, expected=expected)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip().replace(",", ""))
        except ValueError:
            pass
    raise ValidationError("invalid_type", field=path, expected=expected)


def _as_number(path: str, value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValidationError("invalid_type", field=path, expected="number")
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", ""))
        except ValueError:
            raise ValidationError("invalid_type", field=path, expected="number") from None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return normalise_number(value)
    raise ValidationError("invalid_type", field=path, expected="number")


def normalise_number(value: float) -> int | float:
    """Round away binary noise (0.1 + 0.2) and keep whole numbers as int."""
    rounded = round(value, 6)
    return int(rounded) if float(rounded).is_integer() else rounded


def _as_datetime(path: str, value: Any, tz: tzinfo | None) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                "invalid_type", field=path, expected="ISO 8601 date and time"
            ) from None
    if not isinstance(value, datetime):
        raise ValidationError("invalid_type", field=path, expected="ISO 8601 date and time")
    # before any conversion: year 1 or 9999 moved to UTC leaves the calendar
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValidationError(
            "out_of_range", field=path, value=value.year, limit=f"{EARLIEST_YEAR}-{LATEST_YEAR}"
        )
    if value.tzinfo is None:
        # A time without an offset is the store's local time.
        value = value.replace(tzinfo=tz) if tz is not None else value.astimezone()
    return to_iso(value)


def to_iso(value: datetime) -> str:
    """The one stored form of a datetime: UTC, microseconds, explicit offset."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


# --- the attributes of a field's schema form -------------------------------------------------


def _boolean_attribute(path: str, kind: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("invalid_type", field=path, expected="true/false")
    return value


def _bound_attribute(path: str, kind: str, value: Any) -> float:
    if kind not in NUMERIC_KINDS:
        raise ValidationError("unknown_field", field=path)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value
    raise ValidationError("invalid_type", field=path, expected="number")


def _choices_attribute(path: str, kind: str, value: Any) -> tuple[str, ...]:
    if kind != "string":
        raise ValidationError("unknown_field", field=path)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(choice, str) and choice.strip() for choice in value)
    ):
        raise ValidationError("invalid_type", field=path, expected="a list of texts")
    return tuple(choice.strip() for choice in value)


def _text_attribute(path: str, kind: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("invalid_type", field=path, expected="text")
    return value


def _any_attribute(path: str, kind: str, value: Any) -> Any:
    return value  # the default: checked against the finished field


_ATTRIBUTE_CHECKS: Mapping[str, Callable[[str, str, Any], Any]] = {
    "required": _boolean_attribute,
    "personal": _boolean_attribute,
    "default": _any_attribute,
    "min": _bound_attribute,
    "max": _bound_attribute,
    "choices": _choices_attribute,
    "managed_by": _text_attribute,
}
