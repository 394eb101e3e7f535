"""Blast radius: everything a subject can reach, and who can reach a resource (DESIGN §7).

:func:`blast_radius` answers "if this agent were compromised, what could it reach?": for every
resource type and every permission *and* relation the subject's type may reach (pruned with the
schema's type graph), the resources found by the engine's own lookups, as

* **raw** reach -- the subject's own grants (``delegation=False``), and
* **effective** reach -- after the ``acts_for`` caps of its principal chain (DESIGN §4); equal to
  the raw reach for a subject that does not delegate,

with conditional (caveated) results marked and one readable path for each entry. The answer of
every entry comes from the engine's lookups (cursors followed to the end); the path comes from a
directed graph of the relationships and rewrites traversed from the subject (subject -> subject
set -> ... -> ``resource#permission``): the first breadth-first path to the entry. That graph is
a sound over-approximation of reach (intersections contribute every operand, exclusions their
base), so it also tells which (type, permission) pairs are worth a lookup at all.

:func:`who_can_reach` is the reverse view: every subject (humans and agents, plain objects and
wildcards) who can reach a resource, per permission, raw and effective, with a path each.

Work and output are bounded by ``budget``: at most ``budget`` graph nodes are visited and at most
``budget`` entries are returned. When either bound is hit the result says so explicitly
(``truncated=True``, ``truncated_at=budget`` and a "truncated at N" message); nothing is dropped
silently. :func:`to_networkx`, :func:`to_json` and :func:`to_graphml` export a result.

The package's private modules: ``_results`` (result types), ``_graph`` (the path graph and its
paths), ``_forward`` and ``_reverse`` (the two walks), ``_lookups`` (the engine lookups behind
every entry), ``_views`` (the two entry points) and ``_export``.
"""

from rebac.services.blast_radius._export import to_graphml, to_json, to_networkx
from rebac.services.blast_radius._results import (
    BlastRadius,
    PathStep,
    PermissionReach,
    ReachEntry,
    StepKind,
    WhoCanReach,
)
from rebac.services.blast_radius._views import blast_radius, who_can_reach

__all__ = [
    "BlastRadius",
    "PathStep",
    "PermissionReach",
    "ReachEntry",
    "StepKind",
    "WhoCanReach",
    "blast_radius",
    "to_graphml",
    "to_json",
    "to_networkx",
    "who_can_reach",
]
