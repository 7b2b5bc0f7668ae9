"""Reading and composing mail (hermes/platforms/email_wire.py): threads, the text a
person wrote, automated mail of each kind, attachments, our replies' headers."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from hermes.platforms import email_wire as wire

ROOT = "<root.1@client.example>"


def mail(
    body: str = "hello",
    *,
    sender: str = "Ada Lovelace <Ada@Example.org>",
    subject: str = "Lunch?",
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "hermes@example.net"
    msg["Subject"] = subject
    msg["Message-ID"] = "<m.2@client.example>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg


def test_a_new_mail_starts_its_own_thread() -> None:
    got = wire.parse(mail().as_bytes(), "hermes@example.net")
    assert got.sender == "ada@example.org" and got.sender_name == "Ada Lovelace"
    assert got.message_id == "<m.2@client.example>" and got.root == got.message_id
    assert got.subject == "Lunch?" and got.text == "hello" and got.automated is None


def test_a_reply_belongs_to_the_thread_of_its_first_references() -> None:
    headers = {"References": f"{ROOT} <r.2@x>", "In-Reply-To": "<r.3@x>"}
    got = wire.parse(mail(headers=headers).as_bytes())
    assert got.references == (ROOT, "<r.2@x>", "<r.3@x>")
    assert got.root == ROOT
    only_parent = wire.parse(mail(headers={"In-Reply-To": "<p.1@x>"}).as_bytes())
    assert only_parent.root == "<p.1@x>"


def test_quoted_history_is_cut_but_a_mail_that_is_all_quote_keeps_its_text() -> None:
    body = "Noon is fine.\n\nOn Thu, 3 Dec 2026, Hermes wrote:\n> Try the noodle bar.\n>\n"
    assert wire.parse(mail(body).as_bytes()).text == "Noon is fine."
    assert wire.strip_quoted("Yes\n> earlier\n> text") == "Yes"
    assert wire.strip_quoted("> only a quote") == "> only a quote"
    assert wire.strip_quoted("a > b\nkeeps this") == "a > b\nkeeps this"


def test_an_html_only_mail_is_read_as_text() -> None:
    msg = mail()
    msg.set_content("<p>Hi &amp; <b>bye</b></p><script>x()</script><p>two</p>", subtype="html")
    assert wire.parse(msg.as_bytes()).text == "Hi & bye\ntwo"


@pytest.mark.parametrize(
    ("headers", "sender", "why"),
    [
        ({"Auto-Submitted": "auto-replied"}, None, "Auto-Submitted"),
        ({"Auto-Submitted": "auto-generated; type=vacation"}, None, "Auto-Submitted"),
        ({"Precedence": "bulk"}, None, "Precedence"),
        ({"Precedence": "List"}, None, "Precedence"),
        ({"Precedence": "junk"}, None, "Precedence"),
        ({"List-Id": "<news.example.org>"}, None, "List-Id"),
        ({"List-Unsubscribe": "<mailto:x@example.org>"}, None, "List-Unsubscribe"),
        ({wire.MARK_HEADER: "3.0"}, None, wire.MARK_HEADER),
        ({}, "noreply@example.org", "robot"),
        ({}, "No-Reply <no-reply@example.org>", "robot"),
        ({}, "do-not-reply@example.org", "robot"),
        ({}, "MAILER-DAEMON@example.org", "robot"),
        ({}, "postmaster@example.org", "robot"),
        ({}, "Hermes <HERMES@example.net>", "our own address"),
        ({}, "", "no From"),
    ],
)
def test_automated_mail_says_why_it_is_not_answered(
    headers: dict[str, str], sender: str | None, why: str
) -> None:
    msg = mail(headers=headers, sender=sender if sender is not None else "ada@example.org")
    reason = wire.parse(msg.as_bytes(), "hermes@example.net").automated
    assert reason is not None and why in reason


def test_a_mail_with_our_message_id_is_ours() -> None:
    msg = mail()
    msg.replace_header("Message-ID", wire.our_message_id("4.0", "salt", "hermes@example.net"))
    assert wire.parse(msg.as_bytes()).automated == "a Message-ID of ours"


def test_people_and_auto_submitted_no_are_answered() -> None:
    for headers in ({"Auto-Submitted": "no"}, {"Precedence": "first-class"}, {}):
        assert wire.parse(mail(headers=headers).as_bytes(), "hermes@example.net").automated is None
    assert wire.parse(mail(sender="noreplyer.fan@example.org").as_bytes()).automated is None


def test_attachments_are_listed_and_read_back_by_index() -> None:
    msg = mail()
    msg.add_attachment(b"\x00\x01data", maintype="application", subtype="pdf", filename="a.pdf")
    msg.add_attachment(b"PNG", maintype="image", subtype="png", filename="p.png")
    raw = msg.as_bytes()
    got = wire.parse(raw)
    assert [(p.name, p.mime, p.size) for p in got.attachments] == [
        ("a.pdf", "application/pdf", 6),
        ("p.png", "image/png", 3),
    ]
    assert got.text == "hello"
    assert wire.attachment_bytes(raw, got.attachments[0].index) == b"\x00\x01data"
    assert wire.kind_of("image/png") == "image" and wire.kind_of("application/pdf") == "file"


def test_a_thread_survives_the_trip_through_a_target() -> None:
    for message_id in ("<a.b@c>", "<odd:colon%percent@host>"):
        thread = wire.thread_of(message_id)
        assert thread is not None and ":" not in thread
        assert wire.message_id_of(thread) == message_id


def test_the_reply_subject_says_re_once() -> None:
    assert wire.reply_subject("Lunch?") == "Re: Lunch?"
    assert wire.reply_subject("Re: Lunch?") == "Re: Lunch?"
    assert wire.reply_subject("RE: re[2]: AW: Lunch?") == "Re: Lunch?"
    assert wire.reply_subject("") == "Re:"


def test_our_message_id_is_the_same_for_each_try_and_unique_per_home() -> None:
    one = wire.our_message_id("7.0", "salt-a", "hermes@example.net")
    assert one == wire.our_message_id("7.0", "salt-a", "hermes@example.net")
    assert one != wire.our_message_id("7.1", "salt-a", "hermes@example.net")
    assert one != wire.our_message_id("7.0", "salt-b", "hermes@example.net")
    assert one.startswith(f"<{wire.OUR_MARKER}") and one.endswith("@example.net>")


def test_a_reply_is_threaded_plain_with_an_html_alternative_and_marked_automatic() -> None:
    in_reply_to, refs = wire.thread_headers("<p@x>", (ROOT, "<q@x>", "<p@x>"), ROOT)
    msg = wire.compose(
        wire.Reply(
            sender="hermes@example.net",
            sender_name="Hermes",
            to="ada@example.org",
            subject=wire.reply_subject("Lunch?"),
            text="Try **the noodle bar** & <b>stay</b>.",
            message_id="<hermes.1.0.x@example.net>",
            in_reply_to=in_reply_to,
            references=refs,
            key="1.0",
        )
    )
    back = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert back["In-Reply-To"] == "<p@x>"
    assert str(back["References"]).split() == [ROOT, "<q@x>", "<p@x>"]
    assert back["Subject"] == "Re: Lunch?" and back["Auto-Submitted"] == "auto-replied"
    assert back["From"] == "Hermes <hermes@example.net>"
    assert back.get_content_type() == "multipart/alternative"
    plain, html = back.get_body(("plain",)), back.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().strip() == "Try **the noodle bar** & <b>stay</b>."  # type: ignore[attr-defined]
    shown = html.get_content()  # type: ignore[attr-defined]
    assert "<b>the noodle bar</b>" in shown and "&lt;b&gt;stay" in shown
    # our own reply, read back, is never answered
    assert wire.parse(msg.as_bytes(), "other@example.org").automated is not None


def test_references_keep_the_root_when_a_thread_grows_long() -> None:
    chain = tuple(f"<m{i}@x>" for i in range(40))
    _, refs = wire.thread_headers("<m39@x>", chain, "<m0@x>")
    assert len(refs) == 20 and refs[0] == "<m0@x>" and refs[-1] == "<m39@x>"
    assert wire.thread_headers(None, (), ROOT) == (ROOT, (ROOT,))
