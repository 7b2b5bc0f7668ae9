"""A reply as each platform shows it: the model's Markdown rendered into the
platform's markup (`Capabilities.markup`), then split to its length limit.

- "plain" and "discord_md": the Markdown as it is (it reads fine as text, and
  Discord renders what models write);
- "telegram_html": Telegram's HTML (parse_mode HTML), headings bold, lists as
  text bullets (hermes/platforms/render_html.py);
- "matrix_html": an HTML body with paragraphs, headings and lists;
- "slack_mrkdwn": Slack's mrkdwn (hermes/platforms/render_slack.py).

Rendering comes first so that the split (hermes/platforms/render_split.py)
knows every entity of the final text and never cuts one: each part is a
complete message in the markup. Everything here is pure.
"""

from __future__ import annotations

from itertools import islice

from hermes.platforms.render_html import MatrixHTML, TelegramHTML, html_text
from hermes.platforms.render_slack import SlackMrkdwn
from hermes.platforms.render_split import Rendered, iter_parts, size
from hermes.platforms.render_text import as_is
from hermes.platforms.render_walk import Builder, Walker
from hermes.platforms.spec import Capabilities, Markup

_WALKERS: dict[str, type[Walker]] = {
    "telegram_html": TelegramHTML,
    "matrix_html": MatrixHTML,
    "slack_mrkdwn": SlackMrkdwn,
}
MORE = "…"  # ends a streamed preview that is longer than one message


def render(markdown: str, markup: Markup) -> Rendered:
    """MARKDOWN in MARKUP, with its entities marked for the split."""
    walker = _WALKERS.get(markup)
    if walker is None:  # plain, discord_md
        return as_is(markdown)
    rendered = walker(markdown).render()
    shown = html_text(rendered.text) if markup.endswith("html") else rendered.text
    if shown.strip() or not markdown.strip():
        return rendered
    return as_text(markdown, markup)  # nothing visible left (an empty link, quote)


def as_text(markdown: str, markup: Markup) -> Rendered:
    """MARKDOWN as text in MARKUP: escaped where the markup needs it, unformatted."""
    walker = _WALKERS.get(markup)
    if walker is None:
        return Rendered(markdown)
    text = Builder(walker.escapes)
    text.text(markdown)
    return text.result()


def render_parts(markdown: str, caps: Capabilities) -> list[str]:
    """The messages that carry MARKDOWN on a platform: rendered, then split to
    its length limit in its unit. A blank reply gives no parts. Formatting nested
    deeper than one message can carry (its reopening and closing alone fill the
    limit) goes as text instead."""
    return _split(markdown, caps, caps.max_length)


def _split(markdown: str, caps: Capabilities, limit: int, most: int | None = None) -> list[str]:
    """MARKDOWN rendered for CAPS, split to LIMIT (the first MOST parts); as text
    when its entities' reopening and closing alone would fill a part."""
    rendered = render(markdown, caps.markup)
    try:
        return [p.text for p in islice(iter_parts(rendered, limit, caps.length_unit), most)]
    except ValueError:
        rendered = as_text(markdown, caps.markup)
        return [p.text for p in islice(iter_parts(rendered, limit, caps.length_unit), most)]


def preview(markdown: str, caps: Capabilities) -> str:
    """One message showing the start of MARKDOWN (a reply that is still
    streaming): the first part, ended by "…" when there is more."""
    room = caps.max_length - size(MORE, caps.length_unit)
    parts = _split(markdown, caps, room, 2)
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else parts[0] + MORE
