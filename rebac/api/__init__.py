"""The HTTP API (SpiceDB-shaped v1 + OpenID AuthZEN 1.0): build it with :func:`rebac.api.app.create_app`."""
