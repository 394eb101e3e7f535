"""Retrieval filtering: an agent only ever sees the documents its whole chain may read.

A tiny in-memory "vector store" (keyword scoring stands in for embeddings) holds chunks of six
documents. ``agent:researcher`` acts for ``user:bob``. The agent was granted the whole wiki, bob
only some of it, so the agent's effective reach is the intersection: rebac caps it by its human.

* post-filter: retrieve the top chunks, then keep the allowed ones with ONE bulk check
  (:func:`rebac.integrations.retrieval.filter_allowed`);
* pre-filter: ask rebac for every document id the agent may read (lookup resources, every page;
  :func:`rebac.integrations.retrieval.allowed_ids`) and search only inside them.

Both print the same documents. Run against a rebac server (it writes its own schema, so use a
fresh one)::

    REBAC_HOME=$(mktemp -d) REBAC_PRESHARED_KEY=dev-key ./scripts/run &   # a fresh server
    python examples/rag_filter/rag.py --url http://127.0.0.1:8080 --key dev-key

Exit status 0 when both filters agree and no chunk bob may not read reached the agent.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from rebac.client import Client
from rebac.integrations.retrieval import allowed_ids, filter_allowed

SCHEMA = """
definition user {}

definition agent {
    relation principal: user
    acts_for principal
}

definition tool {
    relation caller: user | agent
    permission call = caller
}

definition document {
    relation viewer: user | agent
    permission view = viewer
}
"""

DOCUMENTS = {
    "roadmap": "q3 roadmap: ship the planner agent, then the retrieval filter",
    "okrs": "q3 objectives and key results for the planning team",
    "salaries": "q3 salary bands and planning of raises (confidential)",
    "incident-42": "postmortem of the q3 outage in the planning service",
    "board-notes": "board meeting notes: q3 planning and acquisition targets (restricted)",
    "onboarding": "how to set up your laptop",
}
BOB_MAY_READ = ["roadmap", "okrs", "incident-42", "onboarding"]

RELATIONSHIPS = [
    "agent:researcher#principal@user:bob",
    *[f"document:{doc}#viewer@agent:researcher" for doc in DOCUMENTS],  # the agent got the whole wiki
    *[f"document:{doc}#viewer@user:bob" for doc in BOB_MAY_READ],
]

AGENT, CHAIN = "agent:researcher", ["agent:researcher", "user:bob"]


@dataclass(frozen=True)
class Chunk:
    """One retrieved chunk and the document it came from."""

    doc_id: str
    text: str
    score: int


def search(query: str, k: int, within: Collection[str] | None = None) -> list[Chunk]:
    """The top ``k`` chunks for ``query`` (shared words), optionally only inside ``within``."""
    words = set(query.lower().split())
    hits = [
        Chunk(doc, text, len(words & set(text.split())))
        for doc, text in DOCUMENTS.items()
        if within is None or doc in within
    ]
    return sorted((h for h in hits if h.score), key=lambda h: (-h.score, h.doc_id))[:k]


def main(argv: Sequence[str] | None = None) -> int:
    """Set up the model on the server, retrieve with both filters, print what the agent sees."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("REBAC_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--key", default=os.environ.get("REBAC_KEY", "dev-key"))
    parser.add_argument("--query", default="q3 planning")
    args = parser.parse_args(argv)
    with Client(args.url, key=args.key) as client:
        client.write_schema(SCHEMA)
        client.write_relationships(RELATIONSHIPS)
        retrieved = search(args.query, k=10)
        post = filter_allowed(
            client, AGENT, "view", retrieved, key=lambda c: f"document:{c.doc_id}", via=CHAIN
        )
        ids = allowed_ids(client, AGENT, "document", "view", via=CHAIN)
        pre = search(args.query, k=10, within=set(ids))
    print(f"retrieved: {', '.join(c.doc_id for c in retrieved)}")
    print(f"post-filter kept (one bulk check): {', '.join(c.doc_id for c in post)}")
    print(f"pre-filter ids (lookup resources): {', '.join(ids)}")
    print(f"pre-filtered search: {', '.join(c.doc_id for c in pre)}")
    leaked = {c.doc_id for c in post + pre} - set(BOB_MAY_READ)
    agree = [c.doc_id for c in post] == [c.doc_id for c in pre]
    print(f"filters agree: {'yes' if agree else 'NO'}; leaked: {', '.join(sorted(leaked)) or 'none'}")
    return 0 if agree and not leaked else 1


if __name__ == "__main__":
    sys.exit(main())
