"""The service layer: one entry per operation, shared by the HTTP API and the CLI.

The engine evaluates; a service orchestrates (decision records, schema conformance, versions,
reports). Services import the engine, the schema and the store contract, never ``api`` or ``cli``.
"""
