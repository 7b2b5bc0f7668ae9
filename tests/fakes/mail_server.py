"""Real mail servers on loopback for the email tests: Debian's dovecot (IMAP with IDLE,
LMTP for delivery, passwd-file users with plaintext passwords) and postfix (smtpd on
a free port, every mail for `example.test` handed to dovecot's LMTP, nothing relayed
anywhere else, no DNS). Both run privately: their own config, sockets, queue, maildirs
and logs under one temp dir, started in the foreground so a test can stop and start
them again. Installed by `scripts/install test` (apt-get dovecot-imapd dovecot-lmtpd
postfix); missing binaries fail the test with that instruction.

    with MailServers(["ada", "hermes"]) as mail:
        mail.send(mail.compose("ada", "hermes", "hello", "hi there"))
        mail.wait_for(lambda: mail.count("hermes") == 1)
        mail.restart_imap()
"""

from __future__ import annotations

import contextlib
import email.message
import email.utils
import imaplib
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from email import policy
from email.parser import BytesParser
from pathlib import Path

DOMAIN = "example.test"
PASSWORD = "secret-{user}"  # each user's password
DOVECOT = "/usr/sbin/dovecot"
POSTFIX = "/usr/sbin/postfix"
MAIL_USER = "mail"  # the system user owning the maildirs (dovecot refuses root)
INSTALL = "run scripts/install test (it installs dovecot-imapd, dovecot-lmtpd and postfix)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing() -> str | None:
    """What is not installed, or None."""
    for path in (DOVECOT, POSTFIX, "/usr/lib/dovecot/imap", "/usr/lib/dovecot/lmtp"):
        if not os.path.exists(path):
            return f"{path} is missing: {INSTALL}"
    if os.geteuid() != 0:
        return "the mail servers of the email tests start as root (they drop privileges)"
    return None


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}): {_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.02)
    raise RuntimeError(f"port {port} did not open in {seconds} s: {_tail(log)}")


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


class MailServers:
    """dovecot + postfix for USERS (local parts at example.test)."""

    def __init__(self, users: Iterable[str], *, idle: bool = True) -> None:
        problem = missing()
        if problem is not None:
            raise AssertionError(problem)
        self.users = list(users)
        self.idle = idle
        self.base = Path(tempfile.mkdtemp(prefix="hermes-mail-"))
        self.base.chmod(0o755)  # dovecot's and postfix's own users read their parts
        self.imap_port, self.lmtp_port, self.smtp_port = free_port(), free_port(), free_port()
        self.dovecot: subprocess.Popen[bytes] | None = None
        self.postfix: subprocess.Popen[bytes] | None = None
        self._write_dovecot()
        self._write_postfix()

    def add_user(self, user: str) -> str:
        """USER's address; a mailbox made now if USER was not given at the start (dovecot
        reads its passwd file again when it changes, but may miss two changes within one
        second: name the users up front where that matters)."""
        if user not in self.users:
            self.users.append(user)
            path = self.base / "passwd"
            with path.open("a") as passwd:
                passwd.write(f"{self.address(user)}:{{PLAIN}}{self.password(user)}::::::\n")
            # dovecot reads the file again when its mtime changes: make sure it does,
            # even for two users added within one second
            self._stamp = max(time.time(), getattr(self, "_stamp", 0.0) + 1.0)
            os.utime(path, (self._stamp, self._stamp))
        return self.address(user)

    # -- addresses and URLs the adapter is given ---------------------------------------

    def address(self, user: str) -> str:
        return f"{user}@{DOMAIN}"

    def password(self, user: str) -> str:
        return PASSWORD.format(user=user)

    @property
    def imap_url(self) -> str:
        return f"imap://127.0.0.1:{self.imap_port}"

    @property
    def smtp_url(self) -> str:
        return f"smtp://127.0.0.1:{self.smtp_port}"

    def env(self, user: str) -> dict[str, str]:
        """The EMAIL_* variables of a Hermes home reading USER's mailbox."""
        return {
            "EMAIL_IMAP_URL": self.imap_url,
            "EMAIL_SMTP_URL": self.smtp_url,
            "EMAIL_ADDRESS": self.address(user),
            "EMAIL_PASSWORD": self.password(user),
        }

    # -- configuration -------------------------------------------------------------------

    def _write_dovecot(self) -> None:
        mail = pwd.getpwnam(MAIL_USER)
        maildirs = self.base / "maildirs"
        maildirs.mkdir()
        os.chown(maildirs, mail.pw_uid, mail.pw_gid)
        passwd = self.base / "passwd"
        passwd.write_text(
            "".join(f"{self.address(u)}:{{PLAIN}}{self.password(u)}::::::\n" for u in self.users)
        )
        passwd.chmod(0o644)
        capability = (
            ""
            if self.idle
            else "imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE "
            "SORT THREAD=REFERENCES MULTIAPPEND UIDPLUS LIST-EXTENDED I18NLEVEL=1 NAMESPACE\n"
        )
        self.dovecot_conf = self.base / "dovecot.conf"
        self.dovecot_conf.write_text(
            f"""base_dir = {self.base}/dovecot-run
state_dir = {self.base}/dovecot-state
instance_name = hermes-test-{self.imap_port}
log_path = {self.base}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:{maildirs}/%n
first_valid_uid = {mail.pw_uid}
mail_uid = {mail.pw_uid}
mail_gid = {mail.pw_gid}
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
{capability}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = home={maildirs}/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
service auth {{
  unix_listener auth-smtp {{
    mode = 0666
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@{DOMAIN}
}}
"""
        )

    def _write_postfix(self) -> None:
        self.postfix_dir = self.base / "postfix"
        self.postfix_dir.mkdir()
        (self.base / "postfix-queue").mkdir()  # root's; postfix makes its parts inside
        data = self.base / "postfix-data"
        data.mkdir(mode=0o700)
        owner = pwd.getpwnam("postfix")
        os.chown(data, owner.pw_uid, owner.pw_gid)
        relay_nowhere = "error:the test mail server relays nowhere"
        (self.postfix_dir / "main.cf").write_text(
            f"""compatibility_level = 3.6
queue_directory = {self.base}/postfix-queue
data_directory = {self.base}/postfix-data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
default_transport = {relay_nowhere}
relay_transport = {relay_nowhere}
virtual_mailbox_domains = {DOMAIN}
virtual_transport = lmtp:inet:127.0.0.1:{self.lmtp_port}
smtp_dns_support_level = disabled
lmtp_host_lookup = native
smtp_host_lookup = native
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {self.base}/dovecot-run/auth-smtp
smtpd_tls_security_level = none
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination
alias_maps =
alias_database =
local_recipient_maps =
biff = no
message_size_limit = 52428800
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
maillog_file = {self.base}/postfix.log
maillog_file_prefixes = {self.base}
"""
        )
        services = [
            f"127.0.0.1:{self.smtp_port} inet n - n - - smtpd",
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "lmtp unix - - n - - lmtp",
            "smtp unix - - n - - smtp",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        (self.postfix_dir / "master.cf").write_text("\n".join(services) + "\n")

    # -- running -------------------------------------------------------------------------

    def __enter__(self) -> MailServers:
        try:
            self.start_imap()
            self.start_smtp()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_imap(self) -> None:
        log = self.base / "dovecot.log"
        self.dovecot = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.dovecot_conf)],
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
            start_new_session=True,  # its own process group: stopped as a whole
        )
        _wait_port(self.imap_port, self.dovecot, log)
        _wait_port(self.lmtp_port, self.dovecot, log)

    def stop_imap(self) -> None:
        """Stop dovecot and every process it started, the IMAP sessions of connected
        clients too (as `systemctl restart dovecot` does: their links close)."""
        proc, self.dovecot = self.dovecot, None
        if proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # sessions left behind by the master

    def freeze_imap(self, frozen: bool = True) -> None:
        """Stop (SIGSTOP) or resume dovecot as a whole: its links stay open but silent."""
        assert self.dovecot is not None
        os.killpg(self.dovecot.pid, signal.SIGSTOP if frozen else signal.SIGCONT)

    def restart_imap(self) -> None:
        self.stop_imap()
        self.start_imap()

    def start_smtp(self) -> None:
        log = self.base / "postfix.log"
        self.postfix = subprocess.Popen(
            [POSTFIX, "-c", str(self.postfix_dir), "start-fg"],
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
        )
        _wait_port(self.smtp_port, self.postfix, log)

    def stop_smtp(self) -> None:
        proc, self.postfix = self.postfix, None
        if proc is None:
            return
        subprocess.run(
            [POSTFIX, "-c", str(self.postfix_dir), "stop"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def close(self) -> None:
        self.stop_smtp()
        self.stop_imap()
        shutil.rmtree(self.base, ignore_errors=True)

    def logs(self) -> str:
        """The servers' logs (for failure messages)."""
        dovecot, postfix = _tail(self.base / "dovecot.log"), _tail(self.base / "postfix.log")
        return f"dovecot: {dovecot}\npostfix: {postfix}"

    def queue_empty(self) -> bool:
        """Nothing waits in postfix's queue."""
        out = subprocess.run(
            ["/usr/sbin/postqueue", "-c", str(self.postfix_dir), "-p"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return "Mail queue is empty" in out.stdout

    # -- mail --------------------------------------------------------------------------

    def compose(
        self,
        sender: str,
        to: str,
        subject: str,
        body: str,
        *,
        headers: dict[str, str] | None = None,
        message_id: str | None = None,
    ) -> email.message.EmailMessage:
        """A plain mail from SENDER (a user, or a full address) to TO."""
        msg = email.message.EmailMessage()
        msg["From"] = sender if "@" in sender else self.address(sender)
        msg["To"] = to if "@" in to else self.address(to)
        msg["Subject"] = subject
        msg["Date"] = email.utils.formatdate(localtime=True)
        msg["Message-ID"] = message_id or email.utils.make_msgid(domain="client.example.test")
        for name, value in (headers or {}).items():
            msg[name] = value
        msg.set_content(body)
        return msg

    def send(self, msg: email.message.EmailMessage) -> None:
        """Through postfix's smtpd, as a mail client would (from loopback: no login)."""
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            smtp.send_message(msg)

    def _imap(self, user: str) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=30)
        conn.login(self.address(user), self.password(user))
        return conn

    def messages(self, user: str, folder: str = "INBOX") -> list[tuple[set[str], bytes]]:
        """Each mail in USER's FOLDER: (its flags, its bytes), without marking it seen."""
        conn = self._imap(user)
        try:
            conn.select(folder, readonly=True)
            _, data = conn.uid("SEARCH", "ALL")
            found: list[tuple[set[str], bytes]] = []
            for uid in data[0].split():
                _, parts = conn.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
                head, body = parts[0]  # type: ignore[misc]
                flags = set(imaplib.ParseFlags(head))  # type: ignore[arg-type]
                found.append(({f.decode() for f in flags}, body))
            return found
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def parsed(self, user: str, folder: str = "INBOX") -> list[email.message.EmailMessage]:
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(raw) for _, raw in self.messages(user, folder)]  # type: ignore[misc]

    def count(self, user: str, folder: str = "INBOX") -> int:
        return len(self.messages(user, folder))

    def all_seen(self, user: str) -> bool:
        return all("\\Seen" in flags for flags, _ in self.messages(user))

    def unsee(self, user: str) -> None:
        """Mark every mail in USER's inbox unseen again."""
        conn = self._imap(user)
        try:
            conn.select("INBOX")
            conn.store("1:*", "-FLAGS", "(\\Seen)")
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def append(self, user: str, folder: str, msg: email.message.EmailMessage) -> None:
        conn = self._imap(user)
        try:
            conn.append(folder, "", imaplib.Time2Internaldate(time.time()), msg.as_bytes())
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def wait_for(self, check: Callable[[], bool], seconds: float = 30) -> None:
        """Poll CHECK (it reads the servers) until true, or fail with the logs."""
        deadline = time.monotonic() + seconds
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {seconds} s\n{self.logs()}")
            time.sleep(0.05)
