"""``translate_errors``: driver failures become the error tree's store errors, naming their cause."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout
from sqlalchemy import exc as sa_exc

from rebac.errors import StoreError, StoreUnavailableError
from rebac.store.postgres._sql import translate_errors


@pytest.mark.parametrize(
    ("raised", "said"),
    [
        (PoolTimeout("couldn't get a connection after 5.00 sec"), "no connection was free in time"),
        (sa_exc.TimeoutError("QueuePool limit reached"), "no connection was free in time"),
        (pg_errors.TooManyConnections("sorry, too many clients already"), "too many clients"),
        (psycopg.OperationalError("connection refused"), "the database is unavailable"),
        (OSError("network is unreachable"), "the database is unavailable"),
    ],
)
def test_an_unavailable_database_says_why(raised: Exception, said: str) -> None:
    with pytest.raises(StoreUnavailableError) as caught, translate_errors():
        raise raised
    assert said in str(caught.value)
    assert str(caught.value).startswith("the database is unavailable")


def test_other_driver_failures_are_store_errors_that_name_no_detail() -> None:
    with pytest.raises(StoreError) as caught, translate_errors():
        raise psycopg.DataError("value 'postgresql://u:secret@h/db' is bad")
    assert not isinstance(caught.value, StoreUnavailableError)
    assert "secret" not in str(caught.value)
