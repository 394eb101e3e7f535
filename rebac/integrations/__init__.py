"""Enforcement points on the SDK (:mod:`rebac.client`): MCP middleware, agent-framework guards, retrieval.

Each module is an optional integration; import the one you use (its extra installs the framework).
See ``docs/agents.md``.
"""
