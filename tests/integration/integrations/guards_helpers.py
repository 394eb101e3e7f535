"""Helpers of the framework guards' tests."""

from __future__ import annotations

import time

from rebac.client import Client, DecisionRecord, NotFound


def recorded(client: Client, decision_id: str) -> DecisionRecord:
    """The decision log's record of ``decision_id`` (the recorder writes in batches: a bounded poll)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return client.decision(decision_id)
        except NotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
