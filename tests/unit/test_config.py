"""Settings are built from an explicit environment mapping; secrets stay out of repr."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from rebac.config import Settings
from rebac.errors import InvalidInputError
from rebac.refs import parse_subject


def test_defaults_use_the_embedded_database_under_rebac_home(tmp_path: Path) -> None:
    settings = Settings.from_env({"REBAC_HOME": str(tmp_path)})
    assert settings.database.url is None
    assert settings.database.home == tmp_path
    assert settings.engine.max_depth == 50
    assert settings.database.max_updates_per_write == 1000


def test_environment_overrides() -> None:
    settings = Settings.from_env(
        {
            "REBAC_DATABASE_URL": "postgresql+psycopg://u:secret@db/x",
            "REBAC_MAX_DEPTH": "7",
            "REBAC_MAX_UPDATES_PER_WRITE": "10",
            "REBAC_CACHE": "off",
            "REBAC_PRESHARED_KEY": "k3y-value",
            "REBAC_MAX_REQUEST_BYTES": "2048",
            "REBAC_MAX_BULK_ITEMS": "5",
            "REBAC_MAX_PAGE_SIZE": "50",
        }
    )
    assert settings.api.max_request_bytes == 2048
    assert settings.api.max_bulk_items == 5
    assert settings.api.max_page_size == 50
    assert settings.database.url == "postgresql+psycopg://u:secret@db/x"
    assert settings.engine.max_depth == 7
    assert settings.database.max_updates_per_write == 10
    assert settings.engine.cache_enabled is False
    assert settings.api.preshared_key == "k3y-value"
    assert "k3y-value" not in repr(settings)


def test_index_and_decision_batching_come_from_the_environment() -> None:
    assert Settings.from_env({}).database.index is True
    settings = Settings.from_env(
        {"REBAC_INDEX": "off", "REBAC_DECISION_BATCH_SIZE": "50", "REBAC_DECISION_FLUSH_SECONDS": "0.05"}
    )
    assert settings.database.index is False
    assert settings.decisions.batch_size == 50
    assert settings.decisions.flush_seconds == 0.05


def test_the_preshared_subject_is_one_plain_object() -> None:
    assert Settings.from_env({}).api.preshared_subject is None
    assert Settings.from_env({"REBAC_PRESHARED_SUBJECT": " "}).api.preshared_subject is None
    subject = Settings.from_env({"REBAC_PRESHARED_SUBJECT": "user:alice"}).api.preshared_subject
    assert subject == parse_subject("user:alice")
    for bad in ("user:*", "team:eng#member", "alice", "User:alice"):
        with pytest.raises(InvalidInputError):
            Settings.from_env({"REBAC_PRESHARED_SUBJECT": bad})


def test_read_replicas_come_from_the_environment() -> None:
    assert Settings.from_env({}).database.read_replica_urls == ()
    assert Settings.from_env({}).database.read_replica_wait_seconds == 0.0
    settings = Settings.from_env(
        {
            "REBAC_READ_REPLICA_URLS": " postgresql://r1:5432/db, ,postgresql+psycopg://r2/db ",
            "REBAC_READ_REPLICA_WAIT_SECONDS": "0.05",
        }
    )
    assert settings.database.read_replica_urls == ("postgresql://r1:5432/db", "postgresql+psycopg://r2/db")
    assert settings.database.read_replica_wait_seconds == 0.05


def test_workers_and_pool_size_are_whole_numbers_of_at_least_one() -> None:
    settings = Settings.from_env({"REBAC_WORKERS": "4", "REBAC_POOL_SIZE": " 3 "})
    assert (settings.api.workers, settings.database.pool_size) == (4, 3)
    assert (Settings.from_env({}).api.workers, Settings.from_env({}).database.pool_size) == (1, 10)
    for name, text in (("REBAC_WORKERS", "0"), ("REBAC_POOL_SIZE", "1.5"), ("REBAC_WORKERS", "-2")):
        with pytest.raises(InvalidInputError, match=f"{name} must be a whole number of at least 1"):
            Settings.from_env({name: text})


def test_the_decision_point_is_the_configured_name_else_host_and_pid() -> None:
    assert Settings.from_env({"REBAC_INSTANCE_NAME": "eu-1"}).decisions.decision_point() == "eu-1"
    assert Settings.from_env({}).decisions.decision_point() == f"{socket.gethostname()}:{os.getpid()}"
