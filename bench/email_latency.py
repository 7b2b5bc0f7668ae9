"""Email latency through a real `hermes gateway run`: dovecot (IMAP IDLE) and postfix
(SMTP) on loopback (tests/fakes/mail_server.py; `scripts/install test` installs them),
the scripted model answering at once.

    .venv/bin/python bench/email_latency.py [--quick]

Each of N mails (60; --quick: 15), one at a time, starts its own thread; the next
is sent once the reply arrived. Times are taken from the maildirs on disk (no IMAP
client of the bench in the way):
  * submit -> in Hermes's mailbox: postfix accepting the mail and delivering it by
    LMTP (the mail server's share, not Hermes's);
  * in mailbox -> reply in the sender's mailbox: IMAP IDLE notices it, the gateway
    reads and stores it, runs the turn, sends the reply over SMTP (looking its
    Message-ID up in Sent first, then keeping a copy there), and postfix delivers
    it: the "IMAP IDLE -> reply received" time;
  * submit -> reply received: the whole round trip a user sees.
Medians and p90 in ms. No targets: it prints numbers only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from gateway_load import pct
from latency_common import bench_home

from hermes.testing import ScriptedModel
from tests.fakes.mail_server import MailServers
from tests.gateway_helpers import GatewayProcess


def mails(maildir: Path) -> int:
    return sum(
        len(list((maildir / part).iterdir()))
        for part in ("new", "cur")
        if (maildir / part).exists()
    )


def wait(check: object, seconds: float = 60.0) -> float:
    """Poll CHECK every millisecond; the moment it held (perf_counter)."""
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the mail")
        time.sleep(0.001)
    return time.perf_counter()


async def run(count: int) -> None:
    with MailServers(["hermes", "ada"]) as mail, ScriptedModel() as model:
        model.reply_with(lambda request: "Got it.", times=None)
        tmp = Path(tempfile.mkdtemp(prefix="hermes-email-bench-"))
        env = {**mail.env("hermes"), "EMAIL_ALLOWED_USERS": mail.address("ada")}
        home = bench_home(tmp / "home", model, env, email={"timeout": 10})
        gw = await GatewayProcess(home).ready()
        state = home / "gateway.json"
        wait(lambda: json.loads(state.read_text())["platforms"]["email"] == "connected", 30)
        inbox, replies = mail.base / "maildirs" / "hermes", mail.base / "maildirs" / "ada"
        mta, hermes, total = [], [], []
        for n in range(count + 3):  # 3 warm-up mails
            had_in, had_out = mails(inbox), mails(replies)
            started = time.perf_counter()
            mail.send(mail.compose("ada", "hermes", f"Question {n}", f"question number {n}"))
            landed = wait(lambda: mails(inbox) > had_in)  # noqa: B023
            answered = wait(lambda: mails(replies) > had_out)  # noqa: B023
            if n >= 3:
                mta.append((landed - started) * 1000)
                hermes.append((answered - landed) * 1000)
                total.append((answered - started) * 1000)
        await gw.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"email, {count} mails one at a time (dovecot IDLE + postfix on loopback):")
        for name, values in (
            ("submit -> in Hermes's mailbox (MTA)", mta),
            ("IMAP IDLE -> reply received", hermes),
            ("submit -> reply received", total),
        ):
            print(
                f"  {name:38s} p50 {statistics.median(values):7.1f} ms"
                f"   p90 {pct(values, 0.9):7.1f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="15 mails instead of 60")
    args = parser.parse_args()
    asyncio.run(run(15 if args.quick else 60))


if __name__ == "__main__":
    main()
