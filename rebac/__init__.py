"""rebac: relationship-based authorization for AI agents.

The stable surface is re-exported here; everything else is an implementation detail.
"""

from __future__ import annotations

from rebac.errors import RebacError
from rebac.refs import CaveatRef, ObjectRef, Relationship, SubjectRef, parse_relationship

__all__ = [
    "CaveatRef",
    "ObjectRef",
    "RebacError",
    "Relationship",
    "SubjectRef",
    "__version__",
    "parse_relationship",
]

__version__ = "0.1.0"
