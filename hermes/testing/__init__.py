"""Test helpers shipped with Hermes: a scripted chat model on loopback.

`ScriptedModel` is a real HTTP server (stdlib only, in a background thread)
that speaks the OpenAI chat-completions protocol and answers from a queue you
fill. Any code path that talks to a model over HTTP (the openai_compat
provider, the agent loop, `hermes -z` in a subprocess, the gateway) can be
tested against it, from sync tests, async tests and subprocess tests.

Basics::

    from hermes.testing import ScriptedModel

    with ScriptedModel() as m:                    # or m = ScriptedModel().start(); m.stop()
        m.reply("Hello!", usage=(12, 3))          # (prompt, completion[, cached]) tokens
        m.tool_call("terminal", {"command": "ls"})
        m.tool_calls([("read_file", {"path": "a"}), ("terminal", {"command": "pwd"})])
        m.fail(500, "boom")                       # an HTTP error, consumed like a reply
        m.fail(429, "slow down", retry_after=2)
        m.reply("a").reply("b")                   # queueing calls chain
        ...point a provider at m.base_url ("http://127.0.0.1:PORT/v1")...
    # leaving the block fails the test if a request came with nothing queued,
    # or a queued answer was never requested (m.assert_done() does the same).

Wiring it up:

    * in-process: ``resolve_provider(m.model_settings(), env={})`` gives a
      provider for it (provider custom, no API key, max_retries 0);
    * config.yaml for a subprocess (``hermes -z hi``)::

          model:
            provider: custom
            base_url: <m.base_url>

      (``m.config()`` returns that section as a dict).

Answers arrive in queue order, one per chat request, whether the request
streams (``stream: true``: SSE chunks like OpenAI's: a role delta, one
content delta per word, tool-call deltas with index/id/name then argument
fragments, a finish chunk, a usage chunk when ``stream_options.include_usage``,
then ``data: [DONE]``) or not (one chat.completion JSON). Tool call ids are
``call_1``, ``call_2``... across the model's life unless given (``id=``).

Dynamic answers::

    m.reply_with(lambda req: f"you said {req.messages[-1]['content']}")
    m.reply_with(fn, times=None)   # answers every request from now on

The callback gets the RecordedRequest and returns text, a ``Reply``, a
``Fail``, ``(name, args)`` for one tool call, or a list of those tuples.

Slow replies (interrupt and timeout tests; no sleeping)::

    gate = m.hang(partial="Thinking", then="done")  # streams "Thinking", then waits
    ... start the turn ...
    gate.wait_entered()              # or: await gate.wait_entered_async()
    ... interrupt, or let the client time out ...
    gate.release()                   # the request then gets `then` (stop() releases too)

Inspecting what was sent: ``m.requests`` lists every chat request in order;
each is the parsed JSON body (a dict: ``req["messages"]``) with extras
``req.messages``, ``req.tools``, ``req.tool_names``, ``req.stream``,
``req.headers``, ``req.authorization``, ``req.api_key``. Shortcuts:
``m.last_request``, ``m.last_messages()``, ``m.last_user_text()``,
``m.pending``, and ``m.wait_for_requests(n)`` (blocks until n arrived; in
async tests ``await asyncio.to_thread(m.wait_for_requests, n)``).

An unexpected request answers HTTP 500 ``scripted model: unexpected request
(nothing queued)`` with header ``x-should-retry: false`` (the providers do
not retry it). With a pytest yield fixture the assertion runs at teardown.
Tip: settings with ``max_retries: 0`` keep failure tests quick
(``m.model_settings()`` does that).
"""

from hermes.testing.replies import Answer, Call, Fail, Gate, RecordedRequest, Reply, call
from hermes.testing.scripted import UNEXPECTED, ScriptedModel

__all__ = [
    "UNEXPECTED",
    "Answer",
    "Call",
    "Fail",
    "Gate",
    "RecordedRequest",
    "Reply",
    "ScriptedModel",
    "call",
]
