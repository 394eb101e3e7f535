"""The decision-log shipper's entry point: ``python -m rebac.store.postgres.ship`` (see :mod:`._shipper`).

A module of its own, which the package does not import, so that ``-m`` runs it without importing
it twice (the shipper itself is imported by the store, through the package).
"""

from __future__ import annotations

import sys

from rebac.store.postgres._shipper import main

if __name__ == "__main__":
    sys.exit(main())
