"""The agent's Home Assistant tools: list entities, read a state, call a service.

They talk to Home Assistant's REST API (`GET /api/states`, `GET /api/states/ID`,
`POST /api/services/DOMAIN/SERVICE`, `Authorization: Bearer HASS_TOKEN`) with
`HASS_URL` and `HASS_TOKEN` from the profile's environment (through the turn's
context, never the process environment); without them the model is not offered
these tools. Risky service calls (unlocking, disarming, opening covers, the whole
house off) go through the approval gate: hermes/risk/homeassistant.py judges them
and hermes/approvals/gate.py asks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.tools.base import Tool, schema
from hermes.tools.homeassistant_url import api_root, url_problem

NEEDS = ("HASS_URL", "HASS_TOKEN")
LIST_LIMIT = 300  # entities listed at most (filter by domain or search for the rest)
RESULT_CLIP = 4000
NAME_RE = r"^[a-z0-9_]+$"
ENTITY_RE = r"^[a-z0-9_]+\.[a-z0-9_]+$"


def configured(env: Mapping[str, str]) -> bool:
    return all(env.get(var, "").strip() for var in NEEDS)


async def _request(ctx: TurnContext, method: str, path: str, body: Any = None) -> Any:
    env = ctx.profile.env
    if not configured(env):
        raise ToolError("Home Assistant is not configured: set HASS_URL and HASS_TOKEN in .env")
    problem = url_problem(env["HASS_URL"])
    if problem is not None:
        raise ToolError(problem)
    url = f"{api_root(env['HASS_URL'])}{path}"
    headers = {"Authorization": f"Bearer {env['HASS_TOKEN'].strip()}"}
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.request(method, url, headers=headers, json=body)
    except httpx.HTTPError as exc:
        raise ToolError(f"could not reach Home Assistant at {url} ({type(exc).__name__})") from None
    if answer.status_code in (401, 403):
        raise ToolError("Home Assistant refused HASS_TOKEN; the user must renew the token")
    if answer.status_code == 404:
        raise ToolError(f"Home Assistant has no {path.rsplit('/', 1)[-1]!r} (HTTP 404)")
    if answer.status_code >= 400:
        raise ToolError(f"Home Assistant answered HTTP {answer.status_code}: {answer.text[:300]}")
    try:
        return answer.json()
    except ValueError:
        return answer.text


def _line(state: Mapping[str, Any]) -> str:
    found = state.get("attributes")
    attributes: Mapping[str, Any] = found if isinstance(found, dict) else {}
    name = attributes.get("friendly_name")
    unit = attributes.get("unit_of_measurement")
    value = f"{state.get('state')}{' ' + unit if isinstance(unit, str) else ''}"
    label = f" ({name})" if isinstance(name, str) and name else ""
    return f"{state.get('entity_id')}{label}: {value}"


async def list_entities(args: dict[str, Any], ctx: TurnContext) -> str:
    domain = str(args.get("domain") or "").strip().lower()
    search = str(args.get("search") or "").strip().lower()
    states = await _request(ctx, "GET", "/states")
    if not isinstance(states, list):
        raise ToolError("Home Assistant's /api/states did not answer with a list")
    found = [
        s
        for s in states
        if isinstance(s, dict)
        and (not domain or str(s.get("entity_id", "")).startswith(f"{domain}."))
        and (not search or search in _line(s).lower())
    ]
    found.sort(key=lambda s: str(s.get("entity_id")))
    if not found:
        return "No entities match." if domain or search else "Home Assistant has no entities."
    lines = [_line(s) for s in found[:LIST_LIMIT]]
    if len(found) > LIST_LIMIT:
        lines.append(f"… {len(found) - LIST_LIMIT} more; narrow with domain or search")
    return "\n".join(lines)


async def get_state(args: dict[str, Any], ctx: TurnContext) -> str:
    entity = str(args.get("entity_id") or "").strip()
    if "." not in entity or "/" in entity:
        raise ToolError("entity_id must be DOMAIN.OBJECT_ID, e.g. light.kitchen")
    state = await _request(ctx, "GET", f"/states/{entity}")
    return _clip(json.dumps(state, ensure_ascii=False, indent=1))


def service_data(args: Mapping[str, Any]) -> dict[str, Any]:
    """What is posted to /api/services/DOMAIN/SERVICE (and what the gate judges): the
    call's `data` with its `entity_id`."""
    data = args.get("data") or {}
    if not isinstance(data, dict):
        raise ToolError('data must be an object of service fields, e.g. {"brightness": 120}')
    entity = args.get("entity_id")
    if entity is not None:
        data = {**data, "entity_id": entity}
    return data


async def call_service(args: dict[str, Any], ctx: TurnContext) -> str:
    domain = str(args.get("domain") or "").strip().lower()
    service = str(args.get("service") or "").strip().lower()
    if not domain or not service or "/" in domain + service or "." in domain + service:
        raise ToolError("give domain and service apart, e.g. domain=light service=turn_on")
    changed = await _request(ctx, "POST", f"/services/{domain}/{service}", service_data(args))
    states = [s for s in changed if isinstance(s, dict)] if isinstance(changed, list) else []
    lines = [f"Called {domain}.{service}."]
    if states:
        lines.append("Changed: " + "; ".join(_line(s) for s in states))
    return _clip("\n".join(lines))


def _clip(text: str) -> str:
    return text if len(text) <= RESULT_CLIP else text[:RESULT_CLIP] + " …"


ENTITY_IDS = {
    "anyOf": [
        {"type": "string", "pattern": ENTITY_RE},
        {"type": "array", "items": {"type": "string"}},
    ],
    "description": "the entity (or entities) to act on; 'all' means every entity of the domain",
}

TOOLS = [
    Tool(
        "ha_list_entities",
        "List Home Assistant entities with their state (entity_id (name): state).",
        schema(
            {
                "domain": {"type": "string", "description": "only this domain, e.g. light"},
                "search": {"type": "string", "description": "only entities whose line has this"},
            }
        ),
        list_entities,
        needs=NEEDS,
    ),
    Tool(
        "ha_get_state",
        "The state and attributes of one Home Assistant entity.",
        schema({"entity_id": {"type": "string", "pattern": ENTITY_RE}}, ["entity_id"]),
        get_state,
        needs=NEEDS,
    ),
    Tool(
        "ha_call_service",
        "Call a Home Assistant service (e.g. light.turn_on on light.kitchen). Unlocking, "
        "disarming, opening covers or garage doors and turning off the whole house need "
        "the user's approval.",
        schema(
            {
                "domain": {"type": "string", "pattern": NAME_RE, "description": "e.g. light"},
                "service": {"type": "string", "pattern": NAME_RE, "description": "e.g. turn_on"},
                "entity_id": ENTITY_IDS,
                "data": {"type": "object", "description": "other service fields"},
            },
            ["domain", "service"],
        ),
        call_service,
        needs=NEEDS,
    ),
]
