"""WhatsApp's wire formats, pure: phone numbers, Meta's webhook signature and
handshake, webhook messages -> Inbound, Graph API payloads and errors, the bridge
contract's messages, and how the platform is configured."""

from __future__ import annotations

import json

import pytest

from hermes.cli.gateway_setup import plan
from hermes.gateway.access import allowed_ids
from hermes.gateway.events import Button, Inbound
from hermes.platforms import platform
from hermes.platforms import whatsapp_wire as wire
from hermes.platforms.adapter import Malformed

SECRET = "app-secret"


def test_phone_numbers_are_read_in_any_common_spelling() -> None:
    for spelling in ("+1 650 555 1234", "16505551234", "+1 (650) 555-1234", "1.650.555.1234"):
        assert wire.phone(spelling) == "+16505551234"
    assert wire.phone("16505551234:12@s.whatsapp.net") == "+16505551234"  # a device JID
    assert wire.phone("nobody") == ""
    raw = "+1 650 555 1234, +44 20 7946 0958;\n4915100000000"
    assert wire.allowed_numbers(raw) == {"+16505551234", "+442079460958", "+4915100000000"}
    assert allowed_ids({"WHATSAPP_ALLOWED_USERS": raw}, "whatsapp") == wire.allowed_numbers(raw)
    assert allowed_ids({"TELEGRAM_ALLOWED_USERS": "1 2,3"}, "telegram") == {"1", "2", "3"}


def test_the_signature_is_an_hmac_of_the_raw_body_with_the_app_secret() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    good = wire.sign(body, SECRET)
    assert good.startswith("sha256=") and len(good) == 7 + 64
    assert wire.signature_ok(body, good, SECRET)
    assert not wire.signature_ok(body + b" ", good, SECRET)  # the raw bytes, not the JSON
    assert not wire.signature_ok(body, wire.sign(body, "other"), SECRET)
    assert not wire.signature_ok(body, good.removeprefix("sha256="), SECRET)
    assert not wire.signature_ok(body, None, SECRET)
    assert not wire.signature_ok(body, good, "")  # no secret: nothing is signed


def test_the_verification_handshake_echoes_the_challenge_for_our_token_only() -> None:
    ask = {"hub.mode": "subscribe", "hub.verify_token": "mine", "hub.challenge": "1158201444"}
    assert wire.challenge(ask, "mine") == "1158201444"
    assert wire.challenge({**ask, "hub.verify_token": "yours"}, "mine") is None
    assert wire.challenge({**ask, "hub.mode": "unsubscribe"}, "mine") is None
    assert wire.challenge(ask, "") is None


def body_of(*messages: dict[str, object]) -> dict[str, object]:
    contacts = [{"profile": {"name": "Sheena"}, "wa_id": "16505551234"}]
    value = {"messaging_product": "whatsapp", "contacts": contacts, "messages": list(messages)}
    return {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": value}]}]}


def inbound(message: dict[str, object]) -> Inbound | None:
    value = next(wire.changes(body_of({"from": "16505551234", "id": "wamid.X", **message})))
    ((wamid, found),) = wire.messages(value)
    assert wamid == "wamid.X"
    return wire.cloud_inbound(found, wire.names(value))


def must(message: dict[str, object]) -> Inbound:
    found = inbound(message)
    assert found is not None
    return found


def test_webhook_messages_become_inbound_events() -> None:
    text = must({"type": "text", "text": {"body": "hi"}, "context": {"id": "wamid.OUT1"}})
    assert (text.chat, text.user, text.user_name, text.text) == (
        "+16505551234",
        "+16505551234",
        "Sheena",
        "hi",
    )
    assert text.external_id == text.message_id == "wamid.X"
    assert text.mentions_bot
    press = must(
        {
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": "approve:ab12", "title": "✅ Approve"},
            },
        }
    )
    assert press.callback_data == "approve:ab12" and press.text == "✅ Approve"
    voice = must({"type": "audio", "audio": {"id": "77", "mime_type": "audio/ogg", "voice": True}})
    (attachment,) = voice.attachments
    assert (attachment.kind, attachment.voice, attachment.platform_file_id) == ("audio", True, "77")
    assert wire.file_name(attachment) == "voice.ogg"
    photo = must({"type": "image", "image": {"id": "78", "caption": "look"}})
    assert photo.text == "look" and photo.attachments[0].kind == "image"
    assert inbound({"type": "reaction", "reaction": {"emoji": "👍"}}) is None
    with pytest.raises(Malformed, match=r"message\.text is missing"):
        inbound({"type": "text"})
    with pytest.raises(Malformed, match="entry is not an object"):
        list(wire.changes({"entry": ["x"]}))
    with pytest.raises(Malformed, match=r"message\.from"):
        wire.cloud_inbound({"id": "w", "type": "text", "text": {"body": "x"}}, {})


def test_reply_buttons_keep_to_metas_limits_and_text_says_the_commands() -> None:
    rows = [[Button("✅ Approve", "approve:ab12"), Button("❌ Deny", "deny:ab12")]]
    many = [[Button("A very long label for a button", "x" * 300)] * 2, [Button("c", "c")] * 2]
    payload = wire.buttons_payload("+1 650 555 1234", "y" * 2000, many, "wamid.IN")
    inner = payload["interactive"]
    assert payload["to"] == "16505551234" and payload["context"] == {"message_id": "wamid.IN"}
    assert len(inner["body"]["text"]) == 1024
    replies = [b["reply"] for b in inner["action"]["buttons"]]
    assert len(replies) == 3
    assert replies[0]["title"] == "A very long label f…" and len(replies[0]["title"]) == 20
    assert len(replies[0]["id"]) == 256
    assert wire.typed_commands("Run it?", rows) == "Run it?\n/approve ab12\n/deny ab12"
    said = "Run it?\n/approve ab12 or /deny ab12"
    assert wire.typed_commands(said, rows) == said
    text = wire.text_payload("+16505551234", "hi")
    assert text["text"] == {"preview_url": False, "body": "hi"} and "context" not in text


def error(status: int, code: int | None, **extra: object) -> wire.SendError:
    inner = {"message": "m", "type": "OAuthException", **extra}
    body = {"error": {**inner, "code": code}} if code is not None else "oops"
    return wire.graph_error(status, json.loads(json.dumps(body)))


def test_graph_errors_say_whether_to_retry() -> None:
    revoked = error(401, 190)
    assert isinstance(revoked, wire.BadToken) and not revoked.retryable
    assert "WHATSAPP_TOKEN" in str(revoked) and "(code 190)" in str(revoked)
    assert isinstance(error(403, 10), wire.BadToken)
    window = error(400, 131047)
    assert isinstance(window, wire.OutsideWindow) and not window.retryable
    for status, code in ((429, 130429), (400, 131048), (400, 80007), (400, 131056)):
        assert error(status, code).retryable, code
    assert error(503, None).retryable and error(400, 2).retryable
    assert error(400, 131000, is_transient=True).retryable
    refused = error(400, 100)
    assert not refused.retryable and not isinstance(refused, wire.BadToken)
    assert wire.graph_error(429, {}, "7").retry_after == 7.0


def test_bridge_messages_and_errors() -> None:
    dm = wire.bridge_inbound(
        {"id": "3EB0A", "chat": "15557654321@s.whatsapp.net", "from": "+1 555 765 4321",
         "text": "hi", "reply_to": {"id": "3EB0B", "text": "earlier", "from_me": True}}
    )  # fmt: skip
    assert dm is not None
    assert (dm.chat, dm.user, dm.external_id, dm.reply_to) == (
        "+15557654321",
        "+15557654321",
        "3EB0A",
        "earlier",
    )
    assert dm.mentions_bot and not dm.is_group
    group = wire.bridge_inbound(
        {"id": "3EB0C", "chat": "120363@g.us", "from": "+15557654321", "is_group": True,
         "text": "hey", "button": "approve:ab12"}
    )  # fmt: skip
    assert group is not None and group.chat == "120363@g.us" and group.is_group
    assert group.callback_data == "approve:ab12"
    assert wire.bridge_inbound({"id": "p1", "probe": "n0nce", "chat": "+1", "from": "+1"}) is None
    assert wire.bridge_inbound({"id": "m1", "from_me": True, "chat": "+1", "from": "+1"}) is None
    voice = wire.bridge_inbound(
        {"id": "v", "chat": "+1555", "from": "+1555", "audio": {"id": "m9", "voice": True,
         "seconds": 3}}
    )  # fmt: skip
    assert voice is not None and voice.attachments[0].voice
    assert voice.attachments[0].duration == 3.0
    with pytest.raises(Malformed, match=r"bridge message\.id"):
        wire.bridge_inbound({"chat": "+1", "from": "+1"})
    assert isinstance(wire.bridge_error(401, {"error": "no"}), wire.BadToken)
    limited = wire.bridge_error(429, {"error": "slow down", "retry_after": 3})
    assert limited.retryable and limited.retry_after == 3
    assert wire.bridge_error(503, {"error": "not connected"}).retryable
    assert not wire.bridge_error(404, {"error": "unknown chat"}).retryable


def test_either_the_cloud_api_or_a_bridge_configures_it() -> None:
    whatsapp = platform("whatsapp")
    cloud = dict.fromkeys(whatsapp.required, "x")
    assert whatsapp.configured(cloud)
    assert whatsapp.configured({"WHATSAPP_BRIDGE_URL": "http://127.0.0.1:8088"})
    assert not whatsapp.configured({**cloud, "WHATSAPP_APP_SECRET": ""})
    assert plan(whatsapp, {"WHATSAPP_BRIDGE_URL": "http://127.0.0.1:8088"}, {}) == {
        "WHATSAPP_BRIDGE_URL": "http://127.0.0.1:8088"
    }
    with pytest.raises(Exception, match="whatsapp needs WHATSAPP_PHONE_NUMBER_ID"):
        plan(whatsapp, {"WHATSAPP_TOKEN": "t"}, {})
    assert not platform("telegram").configured({"WHATSAPP_BRIDGE_URL": "http://x"})
