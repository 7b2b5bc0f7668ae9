"""Email as a user sees it: `hermes gateway run` as a real process reading a real
mailbox (dovecot, IMAP IDLE) and answering through a real SMTP server (postfix
delivering to dovecot), both private to the tests (tests/fakes/mail_server.py).
Threads, automated mail, two Hermes homes mailing each other, a kill mid-turn and
before the mail is marked seen, an IMAP restart, a 5 MB attachment, a bad password
and approvals by reply."""

from __future__ import annotations

import itertools
import json
import re
import signal
import sqlite3
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from hermes.testing import ScriptedModel
from tests.fakes.mail_server import MailServers
from tests.gateway_helpers import GatewayProcess, platform_home
from tests.tools_helpers import wait_until

_names = itertools.count(1)


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServers]:
    # every mailbox the tests may use exists from the start (dovecot may not notice a
    # passwd file that changed within the same second)
    names = [f"{who}{n}" for who in ("hermes", "ada", "loop") for n in range(1, 60)]
    with MailServers(names) as servers:
        yield servers


@pytest.fixture
def bot(mail: MailServers) -> str:
    """A fresh mailbox for this test's Hermes."""
    return mail.add_user(f"hermes{next(_names)}").split("@")[0]


@pytest.fixture
def ada(mail: MailServers) -> str:
    """A fresh mailbox for this test's person."""
    return mail.add_user(f"ada{next(_names)}").split("@")[0]


def email_home(
    path: Path,
    model: ScriptedModel,
    mail: MailServers,
    user: str,
    *,
    allowed: str,
    env: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
    **settings: Any,
) -> Path:
    section = {"idle_seconds": 2, "timeout": 5, **settings}
    env = {**mail.env(user), "EMAIL_ALLOWED_USERS": allowed, **(env or {})}
    return platform_home(path, model, "email", section, env, **(config or {}))


def platform_state(home: Path) -> str:
    return str(json.loads((home / "gateway.json").read_text())["platforms"]["email"])


async def connected(home: Path) -> GatewayProcess:
    gw = await GatewayProcess(home).ready()
    await wait_until(lambda: platform_state(home) == "connected", 20, why=gw.log)
    return gw


def scalar(home: Path, sql: str, *args: Any) -> Any:
    with sqlite3.connect(home / "state.db") as conn:
        return conn.execute(sql, args).fetchone()[0]


def reply_to(msg: EmailMessage, sender: str, body: str, mail: MailServers) -> EmailMessage:
    """SENDER's answer to MSG, threaded the way mail clients do, quoting it."""
    refs = f"{msg['References'] or ''} {msg['Message-ID']}".strip()
    quoted = "\n".join(f"> {line}" for line in str(_plain(msg)).splitlines())
    answer = mail.compose(
        sender,
        str(msg["From"]),
        f"Re: {msg['Subject']}",
        f"{body}\n\nOn Thu, 3 Dec 2026, Hermes wrote:\n{quoted}\n",
        headers={"In-Reply-To": str(msg["Message-ID"]), "References": refs},
    )
    return answer


def _plain(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


async def test_a_mail_is_answered_in_its_thread_and_the_thread_is_one_session(
    tmp_path: Path, model: ScriptedModel, mail: MailServers, bot: str, ada: str
) -> None:
    home = email_home(tmp_path / "home", model, mail, bot, allowed=mail.address(ada))
    gw = await connected(home)
    model.reply("Try **the noodle bar**.\n\n- cheap\n- near")
    first = mail.compose(ada, bot, "Lunch?", "Where shall we eat today?")
    mail.send(first)
    await wait_until(lambda: mail.count(ada) == 1, 30, why=gw.log)
    (answer,) = mail.parsed(ada)
    assert answer["Subject"] == "Re: Lunch?"
    assert answer["In-Reply-To"] == first["Message-ID"]
    assert answer["References"] == first["Message-ID"]
    assert answer["Auto-Submitted"] == "auto-replied"
    assert answer.get_content_type() == "multipart/alternative"
    assert "**the noodle bar**" in _plain(answer)
    html = answer.get_body(("html",))
    assert html is not None and "<b>the noodle bar</b>" in html.get_content()  # type: ignore[attr-defined]
    assert "Where shall we eat today?" in model.requests[0].messages[-1]["content"]

    model.reply("Noon suits.")
    mail.send(reply_to(answer, ada, "And when?", mail))
    await wait_until(lambda: mail.count(ada) == 2, 30, why=gw.log)
    second = mail.parsed(ada)[1]
    assert second["Subject"] == "Re: Lunch?"  # once, not "Re: Re:"
    assert second["In-Reply-To"] != first["Message-ID"]
    refs = [first["Message-ID"], answer["Message-ID"], second["In-Reply-To"]]
    assert str(second["References"]).split() == refs
    # the quoted history was cut; the earlier exchange is in the same session
    contents = [m["content"] for m in model.requests[1].messages]
    assert contents[-1] == "And when?"
    assert any("Where shall we eat today?" in str(c) for c in contents[:-1])
    one = "SELECT COUNT(DISTINCT {}) FROM inbound WHERE platform = 'email'"
    assert scalar(home, one.format("session_key")) == scalar(home, one.format("session_id")) == 1
    await wait_until(lambda: mail.all_seen(bot), 10)
    assert mail.count(bot, "Sent") == 2  # kept, and looked up before each send
    assert await gw.stop() == 0


AUTOMATED: list[tuple[str, dict[str, str]]] = [
    ("ada", {"Auto-Submitted": "auto-replied"}),
    ("ada", {"Auto-Submitted": "auto-generated"}),
    ("ada", {"Precedence": "bulk"}),
    ("ada", {"Precedence": "list"}),
    ("ada", {"Precedence": "junk"}),
    ("ada", {"List-Id": "<news.example.test>"}),
    ("ada", {"List-Unsubscribe": "<mailto:leave@example.test>"}),
    ("noreply", {}),
    ("no-reply", {}),
    ("mailer-daemon", {}),
    ("postmaster", {}),
]


async def test_automated_mail_is_never_answered(
    tmp_path: Path, model: ScriptedModel, mail: MailServers, bot: str, ada: str
) -> None:
    automated = [(ada if u == "ada" else u, h) for u, h in AUTOMATED]
    senders = {mail.address(u) for u, _ in automated} | {mail.address(bot)}
    home = email_home(tmp_path / "home", model, mail, bot, allowed=",".join(sorted(senders)))
    gw = await connected(home)
    for user, headers in automated:
        mail.send(mail.compose(user, bot, "Notice", f"automated: {headers}", headers=headers))
    mail.send(mail.compose(bot, bot, "Note to self", "from our own address"))
    model.reply("A person wrote: answered.")
    mail.send(mail.compose(ada, bot, "Question", "a person asks"))
    await wait_until(lambda: mail.count(ada) == 1, 30, why=gw.log)
    await wait_until(lambda: mail.count(bot) == len(AUTOMATED) + 2 and mail.all_seen(bot), 20)
    assert mail.count(ada) == 1 and len(model.requests) == 1
    assert model.requests[0].messages[-1]["content"].endswith("a person asks")
    assert scalar(home, "SELECT COUNT(*) FROM deliveries") == 1
    assert scalar(home, "SELECT COUNT(*) FROM inbound WHERE platform = 'email'") == 1
    log = gw.log()
    assert log.count("email: not answering mail") == len(AUTOMATED) + 1, log
    assert await gw.stop() == 0


async def test_two_homes_mailing_each_other_stop_at_once(
    tmp_path: Path, model: ScriptedModel, mail: MailServers
) -> None:
    a, b = (mail.add_user(f"loop{next(_names)}").split("@")[0] for _ in range(2))
    home_a = email_home(tmp_path / "a", model, mail, a, allowed=mail.address(b))
    home_b = email_home(tmp_path / "b", model, mail, b, allowed=mail.address(a))
    gw_a, gw_b = await connected(home_a), await connected(home_b)
    model.reply("Thanks for your mail.")
    model.reply("Thanks for your mail.")
    # each is told something by the other (as a person using that address would)
    mail.send(mail.compose(b, a, "Hello A", "from B's owner"))
    mail.send(mail.compose(a, b, "Hello B", "from A's owner"))

    def settled() -> bool:  # each answered once, the answers were read and skipped
        return (
            mail.count(a) == 2
            and mail.count(b) == 2
            and mail.all_seen(a)
            and mail.all_seen(b)
            and mail.queue_empty()
            and "not answering mail" in gw_a.log()
            and "not answering mail" in gw_b.log()
        )

    await wait_until(settled, 40, why=lambda: f"{gw_a.log()}\n{gw_b.log()}")
    pending = "SELECT COUNT(*) FROM deliveries WHERE status != 'sent'"
    await wait_until(lambda: scalar(home_a, pending) == 0 and scalar(home_b, pending) == 0, 10)
    # nothing more is on its way: no queue, no delivery, and both mailboxes stay put
    assert mail.queue_empty() and mail.count(a) == 2 and mail.count(b) == 2
    assert len(model.requests) == 2
    for home in (home_a, home_b):
        assert scalar(home, "SELECT COUNT(*) FROM inbound WHERE platform = 'email'") == 1
        assert scalar(home, "SELECT COUNT(*) FROM deliveries") == 1
    assert await gw_a.stop() == 0 and await gw_b.stop() == 0


async def test_a_kill_mid_turn_and_before_seen_answers_exactly_once(
    tmp_path: Path, model: ScriptedModel, mail: MailServers, bot: str, ada: str
) -> None:
    home = email_home(tmp_path / "home", model, mail, bot, allowed=mail.address(ada))
    gw = await connected(home)
    gate = model.hang(then="never delivered")
    mail.send(mail.compose(ada, bot, "Important", "important question"))
    await gate.wait_entered_async(20)
    await gw.stop(signal.SIGKILL)
    gate.release()
    # as if the kill had come before the mail was marked seen: it is read again
    mail.unsee(bot)
    assert not mail.all_seen(bot)

    model.reply("The answer, after the restart.")
    gw = await connected(home)
    answers = lambda: [_plain(m) for m in mail.parsed(ada)]  # noqa: E731
    await wait_until(
        lambda: any("The answer, after the restart." in t for t in answers()), 30, why=gw.log
    )
    await wait_until(lambda: mail.all_seen(bot), 10, why=gw.log)
    texts = answers()
    assert sum("The answer, after the restart." in t for t in texts) == 1
    assert sum(t.startswith("↻ Hermes restarted") for t in texts) == 1
    assert len(texts) == 2, texts
    assert scalar(home, "SELECT COUNT(*) FROM inbound WHERE platform = 'email'") == 1
    assert await gw.stop() == 0
    model.assert_done()


async def test_mail_flows_again_after_the_imap_server_restarts(
    tmp_path: Path, model: ScriptedModel, mail: MailServers, bot: str, ada: str
) -> None:
    home = email_home(tmp_path / "home", model, mail, bot, allowed=mail.address(ada))
    gw = await connected(home)
    model.reply("Before.")
    mail.send(mail.compose(ada, bot, "One", "before the restart"))
    await wait_until(lambda: mail.count(ada) == 1, 30, why=gw.log)
    mail.restart_imap()
    model.reply("After.")
    mail.send(mail.compose(ada, bot, "Two", "after the restart"))
    await wait_until(lambda: mail.count(ada) == 2, 40, why=lambda: gw.log() + mail.logs())
    assert "email: IMAP link lost" in gw.log(), gw.log()
    await wait_until(lambda: platform_state(home) == "connected", 20, why=gw.log)
    assert [_plain(m).strip() for m in mail.parsed(ada)] == ["Before.", "After."]
    assert await gw.stop() == 0


async def test_a_5_mb_attachment_reaches_the_agent(
    tmp_path: Path, model: ScriptedModel, mail: MailServers, bot: str, ada: str
) -> None:
    home = email_home(tmp_path / "home", model, mail, bot, allowed=mail.address(ada))
    gw = await connected(home)
    data = bytes(range(256)) * (5 * 1024 * 1024 // 256)
    msg = mail.compose(ada, bot, "Report", "see the attached file")
    msg.add_attachment(data, maintype="application", subtype="octet-stream", filename="r.bin")
    model.reply("Got the file.")
    mail.send(msg)
    await wait_until(lambda: mail.count(ada) == 1, 60, why=gw.log)
    text = model.requests[0].messages[-1]["content"]
    found = re.search(r"\[file: (\S+)\]", text)
    assert found is not None, text
    saved = Path(found.group(1))
    assert saved.name.endswith("r.bin") and saved.read_bytes() == data  # noqa: ASYNC240
    assert await gw.stop() == 0


async def test_a_bad_password_is_failed_and_not_retried(
    tmp_path: Path, model: ScriptedModel, mail: MailServers, bot: str, ada: str
) -> None:
    wrong = "not-the-password-81723"
    home = email_home(
        tmp_path / "home",
        model,
        mail,
        bot,
        allowed=mail.address(ada),
        env={"EMAIL_PASSWORD": wrong},
    )
    gw = await GatewayProcess(home).ready()
    await wait_until(lambda: platform_state(home).startswith("failed"), 20, why=gw.log)
    assert "EMAIL_PASSWORD" in platform_state(home)
    assert gw.log().count("email: failed") == 1
    assert await gw.stop() == 0
    assert wrong not in gw.output() and wrong not in gw.log()


async def test_an_approval_is_answered_by_replying_approve(
    tmp_path: Path, model: ScriptedModel, mail: MailServers, bot: str, ada: str
) -> None:
    home = email_home(tmp_path / "home", model, mail, bot, allowed=mail.address(ada))
    model.tool_call("terminal", {"command": "rm ~/notes.txt"})
    model.reply("Your notes are gone.")
    gw = await connected(home)
    mail.send(mail.compose(ada, bot, "Clean up", "delete my notes"))
    await wait_until(lambda: mail.count(ada) == 1, 30, why=gw.log)
    (request,) = mail.parsed(ada)
    found = re.search(r"/approve (\w+)", _plain(request))
    assert found is not None, _plain(request)
    assert request["Subject"] == "Re: Clean up"
    assert (home / "notes.txt").exists()
    mail.send(reply_to(request, ada, f"/approve {found.group(1)}", mail))
    await wait_until(
        lambda: any("Your notes are gone." in _plain(m) for m in mail.parsed(ada)),
        30,
        why=gw.log,
    )
    assert not (home / "notes.txt").exists()
    assert await gw.stop() == 0
    model.assert_done()
