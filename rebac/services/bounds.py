"""Bounds on the size of one request, checked before any work is done."""

from __future__ import annotations

from rebac.errors import LimitExceededError

__all__ = ["check_batch"]


def check_batch(count: int, maximum: int, *, limit: str, what: str) -> None:
    """Refuse a batch larger than ``maximum`` before any work is done.

    Args:
        count: How many items the request has.
        maximum: How many it may have.
        limit: The limit's name, reported in the error.
        what: What the items are (``"updates"``), for the message.

    Raises:
        LimitExceededError: naming ``limit``.
    """
    if count > maximum:
        raise LimitExceededError(
            f"too many {what}: {count} > {maximum}", limit=limit, maximum=maximum, actual=count
        )
