"""AuthZEN's free-string ids: the one codec is :mod:`rebac.refs` (``encode_id``/``decode_id``).

Kept as a name for the AuthZEN controllers; the mapping is the same on every surface (the v1
API, the text syntax, the decision log, import/export).
"""

from __future__ import annotations

from rebac.refs import ESCAPE, MAX_FREE_ID_BYTES, decode_id, encode_id

__all__ = ["ESCAPE", "MAX_FREE_ID_BYTES", "decode_id", "encode_id"]
