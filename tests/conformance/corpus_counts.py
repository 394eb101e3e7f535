"""Pinned sizes of the SpiceDB testconfigs corpus, so a parser that drops assertions fails.

Counted once from the YAML with PyYAML (``assertTrue`` + ``assertFalse`` + ``assertCaveated`` of
each file), independently of rebac's parser, and written down here; the corpus is a fixed snapshot
(see its NOTICE.md), so a changed count is a changed corpus or a broken parser, and both must be
looked at.
"""

from __future__ import annotations

from typing import Final

FILES: Final = 73
"""``*.yaml`` files of the corpus."""

TOTAL_ASSERTIONS: Final = 411
"""Assertions in the whole corpus."""

ASSERTIONS: Final[dict[str, int]] = {
    "3letterrbac": 2,
    "aliasing": 16,
    "allopscaveat": 12,
    "arrowoverexpiration": 4,
    "arrowovermultiexclusion": 4,
    "arrowoversametype": 2,
    "arrowsublr": 1,
    "arrowtosameresource": 1,
    "arrowtosamesubject": 2,
    "authn": 2,
    "bannedintersectwildcard": 5,
    "basiccaveat": 8,
    "basicrbac": 6,
    "caveatarrow": 15,
    "caveatedintersectionarrow": 10,
    "caveatexpiration": 8,
    "caveatindirectarrow": 4,
    "caveatip": 7,
    "caveatlist": 6,
    "caveatlr": 2,
    "caveatmap": 6,
    "caveatmultiplebranchessamerel": 1,
    "caveatunderarrow": 2,
    "caveatunderintersect": 2,
    "directandindirect": 12,
    "directgroups": 28,
    "document": 0,
    "expirationwithcaveat": 6,
    "extendedids": 6,
    "groupsintersection": 5,
    "indirectgroups": 4,
    "indirectnestedgroups": 7,
    "indirectrelexpiration": 4,
    "intersectionarrow": 17,
    "intersectrecursivettu": 0,
    "linuxfoundation": 3,
    "lookupsametypes": 0,
    "lrordering": 6,
    "lroverrelation": 2,
    "mixednil": 3,
    "multibranchcaveatwitharrows": 3,
    "multibranchcaveatwithintersectionarrows": 4,
    "multipleexclusion": 12,
    "multipleops": 15,
    "multiplepathssamelookupresult": 0,
    "multipleslashes": 0,
    "nestedrecursive": 0,
    "nestedwilcardexclusions": 2,
    "nil": 4,
    "nilexclusion": 3,
    "public": 17,
    "publiccaveat": 8,
    "publiccaveatexclusion": 5,
    "publicviaintersection": 10,
    "publicviattu": 4,
    "publicwithexclusion": 5,
    "quay": 13,
    "recursivearrowref": 6,
    "relexpiration": 2,
    "sharewith": 0,
    "simplerecursive": 0,
    "simplewildcard": 4,
    "teamwitharrow": 3,
    "token": 0,
    "walkbackandforth": 12,
    "widearrow": 1,
    "wildcardintersectionexclusion": 4,
    "wildcardmainexclusionintersect": 6,
    "wildcardnested": 13,
    "wildcardunionlookup": 8,
    "wildcardwithintersection": 6,
    "wildcardwithnestedexclusions": 2,
    "wildcardwithrightsideexclusion": 8,
}
"""Assertions per file (by file stem)."""
