"""The connection budget of ``rebac serve --workers N`` (pure arithmetic; the live refusal is in
``tests/integration/api/test_workers.py``)."""

from __future__ import annotations

import pytest

from rebac.errors import InvalidInputError
from rebac.store.postgres.capacity import DatabaseCapacity, check_capacity, connections_per_process


def test_one_process_may_open_three_pools_and_eight_more() -> None:
    assert connections_per_process(10) == 38
    assert connections_per_process(1) == 11


def test_workers_that_fit_get_one_line_saying_how_many_of_how_many() -> None:
    line = check_capacity(DatabaseCapacity(100, 3, 5), workers=2, pool_size=10, place="h:5432/db")
    assert line == (
        "2 workers x up to 38 connections (REBAC_POOL_SIZE 10: 3 x 10 + 8) = 76 connections, "
        "of the 97 the database at h:5432/db accepts (max_connections 100, 3 reserved)"
    )


def test_exactly_full_fits_and_open_connections_only_warn() -> None:
    line = check_capacity(DatabaseCapacity(41, 3, 10), workers=1, pool_size=10, place="p")
    assert line.endswith("; 10 are open already, so a busy server may be refused some")


def test_one_connection_too_many_is_refused_with_what_to_change() -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_capacity(DatabaseCapacity(100, 3, 0), workers=3, pool_size=10, place="h/db")
    message = refused.value.message
    assert "3 workers x up to 38 connections (REBAC_POOL_SIZE 10: 3 x 10 + 8) = 114" in message
    assert "more than the 97 the database at h/db accepts (max_connections 100, 3 reserved)" in message
    assert "use --workers 2 or fewer, a smaller REBAC_POOL_SIZE, or raise max_connections" in message
    assert check_capacity(DatabaseCapacity(100, 3, 0), workers=3, pool_size=8, place="h/db")  # 96 fit
