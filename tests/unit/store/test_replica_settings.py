"""Read-replica URLs: a bad one is refused with the setting's name, and never echoes a password."""

from __future__ import annotations

import pytest

from rebac.errors import InvalidInputError
from rebac.store.postgres._replicas import ReplicaRouter, ReplicaSettings, replica_conninfo


def test_a_replica_url_gives_its_conninfo_and_where_without_the_password() -> None:
    conninfo, where = replica_conninfo("postgresql+psycopg://app:s3cret@replica-1:6432/rebac")
    assert conninfo == "postgresql://app:s3cret@replica-1:6432/rebac"
    assert where == "replica-1:6432/rebac"


@pytest.mark.parametrize("url", ["mysql://db/x", "not a url"])
def test_a_replica_url_that_is_not_postgresql_is_refused(url: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        ReplicaRouter(ReplicaSettings((url,)), store_id="00000000-0000-0000-0000-000000000000", pool_size=1)
    assert "REBAC_READ_REPLICA_URLS" in str(caught.value)
    assert caught.value.details == {"setting": "REBAC_READ_REPLICA_URLS"}


def test_replicas_are_not_used_before_they_are_probed() -> None:
    router = ReplicaRouter(
        ReplicaSettings(("postgresql://replica-1/rebac",)),
        store_id="00000000-0000-0000-0000-000000000000",
        pool_size=1,
    )
    assert router.report()[0]["state"] == "unknown"
    assert router.up() == {"replica-1/rebac": False}
    assert router.healthy()
