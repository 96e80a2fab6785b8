"""`runs_right`: whether a generated method does what its reference does, on the same inputs.

Exact match fails a method that is right under another name or with another body (`a + b` for `b + a`);
running both on fixed inputs and comparing what they return and print does not. The inputs come from the
reference's parameters, so every family is runnable: two ints (sum, product, max, min) get pairs that tell
`+` from `*` and order the larger value first and second; one int (is-even, count, factorial) gets small
values, 0 and 1 included (a factorial starting from the wrong value fails); a string (greet, length) gets
an accented word and the empty string; no parameters (print) is one call, its output compared letter for
letter. A field with its getter and setter is run on one instance: set each value, then get it back.
"""

from __future__ import annotations

import re

from datamodules.java.javac import members
from datamodules.java.run import Calls, call_results, fits

INPUTS: dict[tuple[str, ...], tuple[tuple, ...]] = {
    (): ((),),
    ("int",): ((0,), (1,), (2,), (3,), (7,), (10,)),
    ("int", "int"): ((0, 0), (2, 3), (7, -4), (-5, -9), (10, 10), (3, 12)),
    ("String",): (("Ana",), ("",), ("ñandú",), ("Hello, World",)),
}
FIELD_VALUES = ((0,), (7,), (-3,), (42,))
PRINTS = Calls(INPUTS[()])  # the plan of a method without parameters: one call, what it prints compared
PARAMETERS = re.compile(r"\(([^()]*)\)\s*(throws[^{]*)?\{")


def parameter_types(code: str) -> tuple[str, ...] | None:
    """The parameter types of the first method head in `code` ("int a, int b" -> ("int", "int"))."""
    found = PARAMETERS.search(code)
    if found is None:
        return None
    declared = [p.strip() for p in found.group(1).split(",") if p.strip()]
    return tuple(" ".join(p.split()[:-1]) for p in declared)


def plan_for(reference: str) -> Calls | None:
    """How to call a method for its reference: a field with getter and setter, or one method whose
    parameters have inputs here; None for anything else."""
    shape = members(reference)
    if shape == ["field", "method", "method"]:
        return Calls(FIELD_VALUES, set_then_get=True)
    if shape == ["method"] and parameter_types(reference) in INPUTS:
        return Calls(INPUTS[parameter_types(reference)])
    return None


def runs_right(generations: list[str], references: list[str], timeout_ms: int = 2000) -> list[float | None]:
    """Per pair: 1.0 where the generation, called on its reference's inputs, returns and prints what the
    reference does (whatever its name), 0.0 where not (wrong, not compiling, empty, throwing, too slow),
    None where the reference has no plan. One JVM runs them all; a reference runs only where its
    generation has the shape to be compared."""
    plans = [plan_for(r) for r in references]
    tried = [plan if plan and fits(g, plan) else None for g, plan in zip(generations, plans, strict=True)]
    ran = call_results(list(generations) + list(references), tried + tried, timeout_ms)
    generated, expected = ran[: len(generations)], ran[len(generations) :]
    return [
        None if plan is None else float(g is not None and g == e)
        for plan, g, e in zip(plans, generated, expected)
    ]
