"""Every action's parameters, fuzzed from the action's own description (its fields), on the demo
cafe in SQLite and in PostgreSQL side by side: each call is either done on both or refused on
both with the same translated error, and a refusal leaves both databases as they were. Nothing
else may come out: no TypeError, no driver error, no "database unavailable" for bad input."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
import json
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.careon.core import ERROR_KEYS, ActionEngine, CareOnError
from custom_components.careon.core.actions import ACTIONS
from custom_components.careon.core.fields import Field

# objects of the demo cafe, and one that does not exist
OBJECT_IDS = [
    "product.latte_hot",
    "product.cheesecake",
    "inventory_item.milk",
    "zone.hall",
    "supplier.dairy",
    "equipment.grinder",
    "staff.owner",
    "store.store",
    "order.none",
]
HOSTILE_TEXTS = [
    "",
    "  ",
    "\x00",
    "홀\ud800",
    "x" * 300,
    "y" * 20_000,
    "0",
    "-1",
    "1e400",
    "2025-03-01T09:00:00",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59",
]
NUMBERS = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([10**400, 2e19, float("nan"), float("inf"), -0.0, 0, 1, 3, 0.5])
    | st.floats()
)
JSON_SCALARS = (
    st.none() | st.booleans() | NUMBERS | st.sampled_from(HOSTILE_TEXTS) | st.text(max_size=8)
)


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
) | st.sampled_from([_deep(40), _deep(300)])


def _value(spec: Field) -> st.SearchStrategy[Any]:
    """Values for one field: plausible ones and hostile ones, of its kind and of others."""
    other = JSON_SCALARS
    match spec.kind:
        case "string":
            own = (
                st.sampled_from(OBJECT_IDS) | st.sampled_from(HOSTILE_TEXTS) | st.text(max_size=12)
            )
            if spec.choices:
                own = st.sampled_from(spec.choices) | own
        case "integer" | "money" | "number":
            own = NUMBERS | st.integers(min_value=-3, max_value=20)
        case "boolean":
            own = st.booleans()
        case "datetime":
            own = st.sampled_from(
                ["2025-03-01T09:00:00", "2025-03-01T09:00:00+09:00", *HOSTILE_TEXTS[-3:]]
            ) | st.datetimes().map(lambda moment: moment.isoformat())
        case "records":
            own = st.lists(
                st.fixed_dictionaries(
                    {}, optional={name: _value(field) for name, field in spec.fields.items()}
                ),
                max_size=3,
            )
        case _:  # list, mapping
            own = JSON_VALUES
    return own | other


def _params(fields: dict[str, Field]) -> st.SearchStrategy[dict[str, Any]]:
    """An action's parameters: the required ones present (so that the calls get past the
    first check and reach the action's body), the others now and then."""
    return st.fixed_dictionaries(
        {name: _value(field) for name, field in fields.items() if field.required},
        optional={name: _value(field) for name, field in fields.items() if not field.required},
    )


ACTION_PARAMS = {name: _params(dict(action.params)) for name, action in sorted(ACTIONS.items())}
CALLS = st.sampled_from(sorted(ACTION_PARAMS)).flatmap(
    lambda name: st.tuples(st.just(name), ACTION_PARAMS[name])
)


async def _outcome(
    engine: ActionEngine, dump: Any, action: str, params: dict[str, Any]
) -> tuple[str, ...]:
    """("done",) or ("refused", the translation key, the field); raises anything else."""
    before = await dump(engine)
    refusal: CareOnError | None = None
    try:
        await engine.execute(action, params, actor="fuzz", source="service")
    except CareOnError as err:
        refusal = err
    if refusal is None:
        return ("done",)
    assert refusal.translation_key in ERROR_KEYS, refusal
    assert refusal.translation_key not in ("database_unavailable", "database_auth_failed"), (
        action,
        params,
        refusal,
    )
    assert await dump(engine) == before, (action, refusal)
    return ("refused", refusal.translation_key, str(refusal.placeholders.get("field")))


async def test_every_action_refuses_bad_input_alike_on_both_backends(
    cafe_url_on: Any, open_engine: Any, dump: Any
) -> None:
    engines = [
        await open_engine(await cafe_url_on(backend)) for backend in ("sqlite", "postgresql")
    ]
    loop = asyncio.get_running_loop()

    def run[T](coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=120)

    verdicts: dict[str, int] = {}

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(call=CALLS)
    def check(call: tuple[str, dict[str, Any]]) -> None:
        action, params = call
        sqlite, postgresql = (run(_outcome(engine, dump, action, params)) for engine in engines)
        assert sqlite == postgresql, (action, params, sqlite, postgresql)
        verdict = sqlite[0] if sqlite[0] == "done" else sqlite[1]
        verdicts[verdict] = verdicts.get(verdict, 0) + 1

    await asyncio.to_thread(check)
    # the fuzzing reached past the first checks: some calls were done, many kinds refused
    assert verdicts.get("done", 0) > 0, verdicts
    assert len(verdicts) > 5, verdicts
    print(json.dumps(dict(sorted(verdicts.items())), ensure_ascii=False))  # noqa: T201
