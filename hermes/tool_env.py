"""The environment a tool's subprocess gets: the profile's, minus its secrets.

A command the agent runs must not be able to read Hermes' API key (with it,
it could approve its own requests), the bot tokens or the provider keys. So a
variable is left out when its name says it holds a credential — a part of
the name (split at `_`) is KEY, TOKEN, SECRET, PASSWORD, ... (`HERMES_API_KEY`,
`TELEGRAM_BOT_TOKEN`, `EMAIL_PASSWORD`, `SLACK_WEBHOOK_URL`), or it is the
variable `model.api_key_env` names — or when its value is a URL with a
password in it (`postgresql://u:pw@host/db`). The user lets one through by
listing its name in `terminal.env_passthrough`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

_SECRET_PARTS = frozenset(
    {
        "KEY", "KEYS", "APIKEY", "TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD",
        "PASSWD", "PASS", "PASSPHRASE", "PWD_HASH", "CREDENTIAL", "CREDENTIALS", "WEBHOOK",
        "PAT", "COOKIE", "PRIVATE",
    }
)  # fmt: skip
_NOT_SECRET = frozenset({"PWD", "OLDPWD", "SSH_AUTH_SOCK", "GPG_AGENT_INFO", "KEYMAP"})
_URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@", re.I)


def is_secret(name: str, value: str, also: Collection[str] = ()) -> bool:
    """Whether the variable `name=value` holds a credential."""
    if name in also:
        return True
    if name in _NOT_SECRET:
        return False
    parts = set(name.upper().split("_"))
    return bool(parts & _SECRET_PARTS) or bool(_URL_PASSWORD.match(value))


def tool_environment(
    env: Mapping[str, str], passthrough: Collection[str] = (), also: Collection[str] = ()
) -> dict[str, str]:
    """`env` without its secrets, except the names in `passthrough`; `also`:
    more names that are secret whatever they are called."""
    return {
        name: value
        for name, value in env.items()
        if name in passthrough or not is_secret(name, value, also)
    }
