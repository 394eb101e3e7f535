"""``rebac mcp-gateway``: run the MCP gateway (:mod:`rebac.gateway`; the ``gateway`` extra)."""

from __future__ import annotations

import logging
from dataclasses import replace

import click

__all__ = ["gateway_cmd"]


@click.command("mcp-gateway")
@click.option("--listen", help="HOST:PORT to serve MCP on (default 127.0.0.1:8765).")
@click.option("--upstream", help="The MCP server's streamable HTTP URL.")
@click.option("--upstream-command", help='The MCP server as a stdio command, e.g. "python server.py".')
@click.option("--endpoint", envvar="REBAC_ENDPOINT", help="The rebac server (or REBAC_ENDPOINT).")
@click.option("--key", envvar="REBAC_KEY", help="A rebac API key with the check scope (or REBAC_KEY).")
@click.option("--jwks", help="The JWKS that signs callers' tokens: a file or an https:// URL.")
@click.option("--issuer", help="The tokens' issuer (iss).")
@click.option("--audience", help="The tokens' audience (aud): this gateway's resource URL.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="The mapping (YAML).")
@click.option("--name", help="This gateway's name (recorded with its decisions).")
def gateway_cmd(  # noqa: PLR0917 - one parameter per flag
    listen: str | None,
    upstream: str | None,
    upstream_command: str | None,
    endpoint: str | None,
    key: str | None,
    jwks: str | None,
    issuer: str | None,
    audience: str | None,
    config_file: str | None,
    name: str | None,
) -> None:
    """Proxy an MCP server, asking rebac before every tool call, resource read and prompt."""
    try:
        from rebac.gateway import load_config, serve  # noqa: PLC0415 - the extra loads with the command
    except ImportError as exc:
        raise click.ClickException(
            f"the gateway needs the 'gateway' extra (pip install 'rebac[gateway]'): {exc}"
        ) from None
    config = load_config(config_file).with_overrides(
        listen=listen,
        upstream=upstream,
        upstream_command=upstream_command,
        endpoint=endpoint,
        key=key,
        jwks=jwks,
        issuer=issuer,
        audience=audience,
        name=name,
    )
    if (upstream is None) != (
        upstream_command is None
    ):  # a flag's upstream replaces the file's, of either kind
        config = replace(config, upstream=upstream, upstream_command=upstream_command)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    host, port = config.checked().host_port
    click.echo(f"rebac mcp-gateway ({config.name}) on http://{host}:{port}{config.path}", err=True)
    serve(config)
