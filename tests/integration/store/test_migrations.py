"""Migrations: upgrade head on an empty database, no drift from the models, downgrade and redo."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, pool

from rebac.store.postgres.migrate import alembic_config, downgrade_to_base, is_at_head, upgrade_to_head

pytestmark = pytest.mark.integration


def table_names(url: str) -> set[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_check_downgrade_upgrade(empty_database_url: str) -> None:
    assert not is_at_head(empty_database_url)
    upgrade_to_head(empty_database_url)
    assert is_at_head(empty_database_url)
    assert {"relation_tuple", "revision", "schema_version", "store_meta"} <= table_names(empty_database_url)
    command.check(alembic_config(empty_database_url))  # raises when the models drift from the migrations
    downgrade_to_base(empty_database_url)
    assert table_names(empty_database_url) == {"alembic_version"}
    assert not is_at_head(empty_database_url)
    upgrade_to_head(empty_database_url)
    assert is_at_head(empty_database_url)


def test_every_index_names_the_query_shape_it_serves() -> None:
    from rebac.store.postgres.models import metadata  # noqa: PLC0415 - only this test needs the tables

    indexes = [index for table in metadata.tables.values() for index in table.indexes]
    assert len(indexes) >= 5
    for index in indexes:
        assert "shape" in index.info.get("query_shape", ""), index.name
