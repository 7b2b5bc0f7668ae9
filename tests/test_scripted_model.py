"""The scripted test model itself: queueing, wire format, gates and loud failures."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

import httpx
import pytest

from hermes.testing import UNEXPECTED, Fail, RecordedRequest, Reply, ScriptedModel


def chat(m: ScriptedModel, *, stream: bool = False, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
    body.update(extra)
    return httpx.post(f"{m.base_url}/chat/completions", json=body, timeout=10)


def sse_chunks(response: httpx.Response) -> list[Any]:
    out: list[Any] = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def test_answers_in_queue_order_and_records_requests() -> None:
    with ScriptedModel() as m:
        m.reply("first").reply("second", usage=(10, 2, 4))
        one = chat(m).json()
        two = chat(m, messages=[{"role": "user", "content": "again"}]).json()
        assert one["choices"][0]["message"] == {"role": "assistant", "content": "first"}
        assert one["choices"][0]["finish_reason"] == "stop"
        assert two["choices"][0]["message"]["content"] == "second"
        assert two["usage"]["prompt_tokens"] == 10
        assert two["usage"]["completion_tokens"] == 2
        assert two["usage"]["prompt_tokens_details"] == {"cached_tokens": 4}
        assert len(m.requests) == 2
        assert m.requests[0]["messages"][0]["content"] == "hi"
        assert m.last_user_text() == "again"
        assert m.last_messages() == [{"role": "user", "content": "again"}]
        assert m.pending == 0


def test_tool_calls_non_stream_are_numbered_across_replies() -> None:
    with ScriptedModel() as m:
        m.tool_call("terminal", {"command": "ls"})
        m.tool_calls([("read_file", {"path": "a.txt"}), ("terminal", {"command": "pwd"})])
        first = chat(m).json()["choices"][0]
        second = chat(m).json()["choices"][0]
    assert first["finish_reason"] == "tool_calls"
    assert first["message"]["content"] is None
    call = first["message"]["tool_calls"][0]
    assert call["id"] == "call_1"
    assert call["function"] == {"name": "terminal", "arguments": '{"command": "ls"}'}
    ids = [c["id"] for c in second["message"]["tool_calls"]]
    names = [c["function"]["name"] for c in second["message"]["tool_calls"]]
    assert ids == ["call_2", "call_3"]
    assert names == ["read_file", "terminal"]


def test_stream_looks_like_openai() -> None:
    with ScriptedModel() as m:
        m.reply("Hello there big world", usage=(7, 4))
        m.tool_calls([("a", {"x": 1}), ("b", {"y": "long value"})], text="Let me look.")
        plain = sse_chunks(chat(m, stream=True, stream_options={"include_usage": True}))
        calls = sse_chunks(chat(m, stream=True))
    assert plain[-1] == "[DONE]"
    assert plain[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    pieces = [c["choices"][0]["delta"].get("content") for c in plain[1:-3]]
    assert len(pieces) == 4
    assert "".join(pieces) == "Hello there big world"
    assert plain[-3]["choices"][0]["finish_reason"] == "stop"
    assert plain[-2]["choices"] == []
    assert plain[-2]["usage"]["prompt_tokens"] == 7

    assert calls[-1] == "[DONE]"
    assert all("usage" not in c for c in calls[:-1])  # not asked for
    deltas = [c["choices"][0]["delta"] for c in calls[1:-2]]
    starts = [d["tool_calls"][0] for d in deltas if "id" in d.get("tool_calls", [{}])[0]]
    assert [(s["index"], s["id"], s["function"]["name"]) for s in starts] == [
        (0, "call_1", "a"),
        (1, "call_2", "b"),
    ]
    args: dict[int, str] = {}
    for d in deltas:
        for tc in d.get("tool_calls", []):
            args[tc["index"]] = args.get(tc["index"], "") + tc["function"].get("arguments", "")
    assert json.loads(args[1]) == {"y": "long value"}
    fragments = [d for d in deltas if "tool_calls" in d and "id" not in d["tool_calls"][0]]
    assert len(fragments) > 2  # arguments arrive in several pieces
    assert calls[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_fail_is_an_http_error_consumed_like_a_reply() -> None:
    with ScriptedModel() as m:
        m.fail(429, "slow down", retry_after=3).reply("ok")
        first = chat(m)
        second = chat(m)
    assert first.status_code == 429
    assert first.headers["retry-after"] == "3"
    assert first.json()["error"]["message"] == "slow down"
    assert second.json()["choices"][0]["message"]["content"] == "ok"


def test_unexpected_request_answers_500_and_fails_the_test() -> None:
    m = ScriptedModel().start()
    try:
        response = chat(m)
    finally:
        m.stop()
    assert response.status_code == 500
    assert response.json()["error"]["message"] == UNEXPECTED
    assert response.headers["x-should-retry"] == "false"
    assert len(m.requests) == 1
    with pytest.raises(AssertionError, match="unexpected request #1"):
        m.assert_done()


def test_context_exit_fails_on_unexpected_or_unused_answers() -> None:
    with (
        pytest.raises(AssertionError, match=r"never requested: reply\('unused'\)"),
        ScriptedModel() as m,
    ):
        m.reply("unused")
    with pytest.raises(AssertionError, match="unexpected request"), ScriptedModel() as m:
        chat(m)


def test_context_exit_does_not_hide_the_real_error() -> None:
    with pytest.raises(KeyError), ScriptedModel() as m:
        m.reply("unused")
        raise KeyError("the test's own failure")


def test_reply_with_computes_answers_from_the_request() -> None:
    seen: list[RecordedRequest] = []

    def echo(req: RecordedRequest) -> str:
        seen.append(req)
        return f"you said {req.messages[-1]['content']}"

    with ScriptedModel() as m:
        m.reply_with(echo, times=2)
        m.reply_with(lambda req: ("terminal", {"command": "ls"}))
        m.reply_with(lambda req: Fail(503, "down"))
        m.reply_with(lambda req: Reply("always"), times=None)
        assert chat(m).json()["choices"][0]["message"]["content"] == "you said hi"
        assert chat(m).json()["choices"][0]["message"]["content"] == "you said hi"
        call = chat(m).json()["choices"][0]["message"]["tool_calls"][0]
        assert call["function"]["name"] == "terminal"
        assert chat(m).status_code == 503
        for _ in range(3):
            assert chat(m).json()["choices"][0]["message"]["content"] == "always"
    assert len(seen) == 2


def test_a_broken_callback_is_reported() -> None:
    m = ScriptedModel().start()
    try:
        m.reply_with(lambda req: 1 / 0)
        assert chat(m).status_code == 500
    finally:
        m.stop()
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        m.assert_done()


def test_hang_holds_the_request_until_released() -> None:
    with ScriptedModel() as m:
        gate = m.hang(then="finally")
        result: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: result.append(chat(m)))
        worker.start()
        gate.wait_entered()
        assert gate.entered and not result  # still held
        gate.release()
        worker.join(timeout=10)
        assert result[0].json()["choices"][0]["message"]["content"] == "finally"


def test_hang_streams_partial_text_before_waiting() -> None:
    with ScriptedModel() as m:
        gate = m.hang(partial="Thinking hard", then=" done")
        lines: list[str] = []
        got_partial = threading.Event()

        def read() -> None:
            body = {"model": "m", "messages": [], "stream": True}
            with httpx.stream("POST", f"{m.base_url}/chat/completions", json=body) as r:
                for line in r.iter_lines():
                    lines.append(line)
                    if "hard" in line:
                        got_partial.set()

        worker = threading.Thread(target=read)
        worker.start()
        assert got_partial.wait(10)
        assert not any("[DONE]" in line for line in lines)
        gate.release()
        worker.join(timeout=10)
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in lines
        if line.startswith("data: {")
    )
    assert text == "Thinking hard done"
    assert lines[-1] == "data: [DONE]" or lines[-2] == "data: [DONE]"


def test_stop_releases_held_requests() -> None:
    m = ScriptedModel().start()
    gate = m.hang()
    worker = threading.Thread(target=lambda: chat(m))
    worker.start()
    gate.wait_entered()
    m.stop()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert gate.released


def test_records_authorization_and_serves_models() -> None:
    with ScriptedModel(model="tiny") as m:
        m.reply("ok")
        httpx.post(
            f"{m.base_url}/chat/completions",
            json={"messages": []},
            headers={"Authorization": "Bearer sk-test"},
        )
        models = httpx.get(f"{m.base_url}/models").json()
    assert m.last_request.authorization == "Bearer sk-test"
    assert m.last_request.api_key == "sk-test"
    assert models["data"][0]["id"] == "tiny"


def test_unknown_path_is_a_problem() -> None:
    m = ScriptedModel().start()
    try:
        assert httpx.post(f"{m.base_url}/completions", json={}).status_code == 404
    finally:
        m.stop()
    with pytest.raises(AssertionError, match="unknown path /v1/completions"):
        m.assert_done()


def test_wait_for_requests_has_a_deadline() -> None:
    with ScriptedModel() as m:
        with pytest.raises(AssertionError, match="expected 1 request"):
            m.wait_for_requests(1, timeout=0.05)
        m.reply("ok")
        chat(m)
        m.wait_for_requests(1)


def test_serves_a_subprocess() -> None:
    code = (
        "import httpx, sys\n"
        "r = httpx.post(sys.argv[1] + '/chat/completions', json={'messages': []})\n"
        "print(r.json()['choices'][0]['message']['content'])\n"
    )
    with ScriptedModel() as m:
        m.reply("from afar")
        out = subprocess.run(
            [sys.executable, "-c", code, m.base_url],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": "/usr/bin:/bin"},
            check=True,
        )
    assert out.stdout.strip() == "from afar"


def test_model_settings_point_at_the_server() -> None:
    with ScriptedModel() as m:
        settings = m.model_settings(max_retries=2)
        assert settings.provider == "custom"
        assert settings.base_url == m.base_url
        assert settings.max_retries == 2
        assert m.config() == {"provider": "custom", "base_url": m.base_url, "model": m.model}
