"""Client commands against a running server: ``check``, ``write``, ``lookup``, ``expand``, ``watch``.

Every command takes ``--endpoint`` (``REBAC_ENDPOINT``, default ``http://127.0.0.1:8080``) and
``--key`` (``REBAC_KEY``), speaks the v1 HTTP API with httpx, prints a human-readable answer (or
the server's JSON with ``--json``), and turns problem details into a one-line error. Objects and
relationships use the one text syntax (``document:1#viewer@user:tom``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import click
import httpx

from rebac.errors import RebacError
from rebac.refs import ObjectRef, Relationship, SubjectRef, parse_object, parse_relationship, parse_subject

__all__ = ["check_cmd", "expand_cmd", "lookup_group", "watch_cmd", "write_cmd"]

DEFAULT_ENDPOINT: Final = "http://127.0.0.1:8080"
_NDJSON: Final = "application/x-ndjson"


@dataclass(frozen=True, slots=True)
class Client:
    """Where and how to call the server."""

    endpoint: str
    key: str | None
    as_json: bool
    timeout: float = 30.0

    def _headers(self, accept: str = "application/json") -> dict[str, str]:
        headers = {"Accept": accept}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        return headers

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON, return the JSON answer; a problem becomes a :class:`click.ClickException`."""
        try:
            response = httpx.post(
                self.endpoint + path, json=body, headers=self._headers(), timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise click.ClickException(f"cannot reach {self.endpoint}: {type(exc).__name__}") from None
        _raise_for_problem(response)
        result: dict[str, Any] = response.json()
        return result

    def stream(
        self, path: str, body: dict[str, Any], *, timeout: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """POST JSON and yield the ``result`` of each NDJSON line."""
        try:
            with httpx.stream(
                "POST",
                self.endpoint + path,
                json=body,
                headers=self._headers(_NDJSON),
                timeout=timeout or self.timeout,
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_problem(response)
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    if "error" in item:
                        raise click.ClickException(_describe(item["error"]))
                    yield item["result"]
        except httpx.HTTPError as exc:
            raise click.ClickException(f"cannot reach {self.endpoint}: {type(exc).__name__}") from None


def _describe(problem: dict[str, Any]) -> str:
    title = problem.get("title", "error")
    detail = problem.get("detail", "")
    return f"{title}: {detail}" if detail else str(title)


def _raise_for_problem(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = {"title": f"HTTP {response.status_code}"}
    raise click.ClickException(f"{response.status_code} {_describe(problem)}")


def _obj(ref: ObjectRef) -> dict[str, str]:
    return {"objectType": ref.type, "objectId": ref.id}


def _subj(ref: SubjectRef) -> dict[str, Any]:
    out: dict[str, Any] = {"object": _obj(ref.object)}
    if ref.relation:
        out["optionalRelation"] = ref.relation
    return out


def _relationship(rel: Relationship) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resource": _obj(rel.resource),
        "relation": rel.relation,
        "subject": _subj(rel.subject),
    }
    if rel.caveat is not None:
        out["optionalCaveat"] = {"caveatName": rel.caveat.name, "context": rel.caveat.context}
    if rel.expires_at is not None:
        out["optionalExpiresAt"] = rel.expires_at.isoformat().replace("+00:00", "Z")
    return out


def _consistency(token: str | None, *, full: bool = False) -> dict[str, Any]:
    if token:
        return {"consistency": {"atLeastAsFresh": {"token": token}}}
    if full:
        return {"consistency": {"fullyConsistent": True}}
    return {}


def _parse(parser: Any, text: str, what: str) -> Any:
    try:
        return parser(text)
    except RebacError as exc:
        raise click.BadParameter(exc.message, param_hint=what) from None


def _context(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON ({exc.msg})", param_hint="--context") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--context")
    return value


def _emit(value: Any) -> None:
    click.echo(json.dumps(value, separators=(",", ":")))


endpoint_option = click.option(
    "--endpoint", envvar="REBAC_ENDPOINT", default=DEFAULT_ENDPOINT, show_default=True, help="Server URL."
)
key_option = click.option("--key", envvar="REBAC_KEY", default=None, help="API key (or REBAC_KEY).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the server's JSON.")


@click.command("check")
@click.argument("resource")
@click.argument("permission")
@click.argument("subject")
@click.option("--context", help='Caveat context as a JSON object, e.g. \'{"day": "mon"}\'.')
@click.option("--token", help="Consistency token: answer at least as fresh as this write.")
@click.option("--explain", is_flag=True, help="Show the path that decided (withTracing).")
@endpoint_option
@key_option
@json_option
def check_cmd(
    resource: str,
    permission: str,
    subject: str,
    *,
    context: str | None,
    token: str | None,
    explain: bool,
    endpoint: str,
    key: str | None,
    as_json: bool,
) -> None:
    """Check whether SUBJECT has PERMISSION on RESOURCE (e.g. document:1 view user:tom)."""
    client = Client(endpoint.rstrip("/"), key, as_json)
    body: dict[str, Any] = {
        "resource": _obj(_parse(parse_object, resource, "RESOURCE")),
        "permission": permission,
        "subject": _subj(_parse(parse_subject, subject, "SUBJECT")),
        **_consistency(token),
    }
    ctx = _context(context)
    if ctx is not None:
        body["context"] = ctx
    if explain:
        body["withTracing"] = True
    answer = client.post("/v1/permissions/check", body)
    if as_json:
        _emit(answer)
        return
    verdict = {
        "PERMISSIONSHIP_HAS_PERMISSION": "allowed",
        "PERMISSIONSHIP_NO_PERMISSION": "denied",
        "PERMISSIONSHIP_CONDITIONAL_PERMISSION": "conditional",
    }.get(answer.get("permissionship", ""), "unknown")
    missing = answer.get("partialCaveatInfo", {}).get("missingRequiredContext", [])
    click.echo(f"{verdict}" + (f" (missing context: {', '.join(missing)})" if missing else ""))
    for hop in answer.get("delegation") or []:
        _print_hop(hop)
    if explain and "debugTrace" in answer:
        _print_trace(answer["debugTrace"]["check"], 0)


def _print_hop(hop: dict[str, Any]) -> None:
    """One line per identity on the delegation chain: ``  hop 1 user:alice: denied``."""
    ref = hop["subject"]["object"]
    click.echo(f"  hop {hop['depth']} {ref['objectType']}:{ref['objectId']}: {hop['reason']}")


def _print_trace(node: dict[str, Any], depth: int) -> None:
    res = node["resource"]
    mark = {"PERMISSIONSHIP_HAS_PERMISSION": "✓", "PERMISSIONSHIP_CONDITIONAL_PERMISSION": "?"}.get(
        node.get("result", ""), "✗"
    )
    click.echo(f"{'  ' * depth}{mark} {res['objectType']}:{res['objectId']}#{node['permission']}")
    for child in node.get("subProblems", {}).get("traces", []):
        _print_trace(child, depth + 1)


@click.command("write")
@click.argument("relationships", nargs=-1)
@click.option("--delete", is_flag=True, help="Delete the relationships instead of touching them.")
@click.option("--create", is_flag=True, help="CREATE (fail if one exists) instead of TOUCH.")
@click.option(
    "--file", "file_", type=click.File("r", encoding="utf-8"), help="Read relationships (one per line)."
)
@endpoint_option
@key_option
@json_option
def write_cmd(
    relationships: tuple[str, ...],
    *,
    delete: bool,
    create: bool,
    file_: Any,
    endpoint: str,
    key: str | None,
    as_json: bool,
) -> None:
    """Write RELATIONSHIPS atomically (document:1#viewer@user:tom ...); prints the write's token."""
    client = Client(endpoint.rstrip("/"), key, as_json)
    texts = list(relationships)
    if file_ is not None:
        texts += [line.strip() for line in file_ if line.strip() and not line.strip().startswith("//")]
    if not texts:
        raise click.UsageError("give at least one relationship (or --file)")
    operation = "OPERATION_DELETE" if delete else "OPERATION_CREATE" if create else "OPERATION_TOUCH"
    updates = [
        {
            "operation": operation,
            "relationship": _relationship(_parse(parse_relationship, text, "RELATIONSHIPS")),
        }
        for text in texts
    ]
    answer = client.post("/v1/relationships/write", {"updates": updates})
    if as_json:
        _emit(answer)
        return
    click.echo(f"wrote {len(updates)} update(s); token: {answer['writtenAt']['token']}")


@click.group("lookup")
def lookup_group() -> None:
    """Look up resources a subject can reach, or subjects that can reach a resource."""


@lookup_group.command("resources")
@click.argument("resource_type")
@click.argument("permission")
@click.argument("subject")
@click.option("--context", help="Caveat context as a JSON object.")
@click.option("--token", help="Consistency token.")
@endpoint_option
@key_option
@json_option
def lookup_resources_cmd(
    resource_type: str,
    permission: str,
    subject: str,
    *,
    context: str | None,
    token: str | None,
    endpoint: str,
    key: str | None,
    as_json: bool,
) -> None:
    """Every RESOURCE_TYPE object on which SUBJECT has PERMISSION (streamed, all pages)."""
    client = Client(endpoint.rstrip("/"), key, as_json)
    body: dict[str, Any] = {
        "resourceObjectType": resource_type,
        "permission": permission,
        "subject": _subj(_parse(parse_subject, subject, "SUBJECT")),
        **_consistency(token),
    }
    ctx = _context(context)
    if ctx is not None:
        body["context"] = ctx
    for item in client.stream("/v1/permissions/resources", body):
        if as_json:
            _emit(item)
            continue
        suffix = " (conditional)" if "CONDITIONAL" in item.get("permissionship", "") else ""
        click.echo(f"{resource_type}:{item['resourceObjectId']}{suffix}")


@lookup_group.command("subjects")
@click.argument("resource")
@click.argument("permission")
@click.argument("subject_type")
@click.option("--subject-relation", default="", help="Subject relation (e.g. member for team#member).")
@click.option("--context", help="Caveat context as a JSON object.")
@click.option("--token", help="Consistency token.")
@endpoint_option
@key_option
@json_option
def lookup_subjects_cmd(
    resource: str,
    permission: str,
    subject_type: str,
    *,
    subject_relation: str,
    context: str | None,
    token: str | None,
    endpoint: str,
    key: str | None,
    as_json: bool,
) -> None:
    """Every SUBJECT_TYPE subject with PERMISSION on RESOURCE (streamed, all pages)."""
    client = Client(endpoint.rstrip("/"), key, as_json)
    body: dict[str, Any] = {
        "resource": _obj(_parse(parse_object, resource, "RESOURCE")),
        "permission": permission,
        "subjectObjectType": subject_type,
        "optionalSubjectRelation": subject_relation,
        **_consistency(token),
    }
    ctx = _context(context)
    if ctx is not None:
        body["context"] = ctx
    for item in client.stream("/v1/permissions/subjects", body):
        if as_json:
            _emit(item)
            continue
        found = item["subject"]
        suffix = " (conditional)" if "CONDITIONAL" in found.get("permissionship", "") else ""
        excluded = [e["subjectObjectId"] for e in item.get("excludedSubjects", [])]
        if excluded:
            suffix += f" (except {', '.join(excluded)})"
        click.echo(f"{subject_type}:{found['subjectObjectId']}{suffix}")


@click.command("expand")
@click.argument("resource")
@click.argument("permission")
@click.option("--token", help="Consistency token.")
@endpoint_option
@key_option
@json_option
def expand_cmd(
    resource: str, permission: str, *, token: str | None, endpoint: str, key: str | None, as_json: bool
) -> None:
    """Print the userset tree of RESOURCE#PERMISSION."""
    client = Client(endpoint.rstrip("/"), key, as_json)
    body = {"resource": _obj(_parse(parse_object, resource, "RESOURCE")), "permission": permission}
    answer = client.post("/v1/permissions/expand", {**body, **_consistency(token)})
    if as_json:
        _emit(answer)
        return
    _print_tree(answer["treeRoot"], 0)


def _subject_text(ref: dict[str, Any]) -> str:
    obj = ref["object"]
    text = f"{obj['objectType']}:{obj['objectId']}"
    return f"{text}#{ref['optionalRelation']}" if ref.get("optionalRelation") else text


def _print_tree(node: dict[str, Any], depth: int) -> None:
    obj = node["expandedObject"]
    pad = "  " * depth
    head = f"{pad}{obj['objectType']}:{obj['objectId']}#{node['expandedRelation']}"
    if "intermediate" in node:
        op = node["intermediate"]["operation"].removeprefix("OPERATION_").lower()
        click.echo(f"{head} [{op}]")
        for child in node["intermediate"]["children"]:
            _print_tree(child, depth + 1)
        return
    subjects = [_subject_text(s) for s in node.get("leaf", {}).get("subjects", [])]
    click.echo(f"{head}: {', '.join(subjects) if subjects else '(none)'}")


@click.command("watch")
@click.option("--since", "since", help="Start after this token (default: from now).")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Stop after this many seconds.")
@click.option("--type", "types", multiple=True, help="Only these resource types (repeatable).")
@endpoint_option
@key_option
@json_option
def watch_cmd(
    *,
    since: str | None,
    timeout: float,
    types: tuple[str, ...],
    endpoint: str,
    key: str | None,
    as_json: bool,
) -> None:
    """Print relationship changes as they commit (bounded by --timeout)."""
    client = Client(endpoint.rstrip("/"), key, as_json)
    body: dict[str, Any] = {"optionalTimeoutSeconds": timeout, "optionalObjectTypes": list(types)}
    if since:
        body["optionalStartCursor"] = {"token": since}
    last = None
    for item in client.stream("/v1/watch", body, timeout=timeout + 30):
        last = item["changesThrough"]["token"]
        if as_json:
            _emit(item)
            continue
        for update in item.get("updates", []):
            rel = update["relationship"]
            res = rel["resource"]
            op = update["operation"].removeprefix("OPERATION_").lower()
            target = f"{res['objectType']}:{res['objectId']}#{rel['relation']}"
            click.echo(f"{op:6} {target}@{_subject_text(rel['subject'])}")
    if last and not as_json:
        click.echo(f"through token: {last}", err=True)
    sys.stdout.flush()
