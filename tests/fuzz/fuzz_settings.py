"""The one hypothesis profile of the fuzz tests: bounded and deterministic.

``derandomize`` makes every run (CI included) try the same examples, so a failure reproduces and
a pass is not luck; ``max_examples`` bounds the time; there is no per-example deadline (a slow,
shared machine must not turn into a flaky failure: the project has no timed unit tests).
Set ``REBAC_FUZZ_EXAMPLES`` to explore more locally (still deterministic for a given number).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("REBAC_FUZZ_EXAMPLES", "300"))

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
