"""Email as data: reading a received mail (sender, thread, text, attachments, whether
a machine sent it) and composing a reply (threading headers, `Re:` subject, plain
text with an HTML alternative). Pure: no sockets here (hermes/platforms/email_adapter.py
does the I/O).

Threads: a conversation is the chain of Message-ID / In-Reply-To / References; its
root is the first id of References (else In-Reply-To, else the mail's own id). The
gateway's thread is that root, written so that it fits a target (`PLATFORM:CHAT:THREAD`
has no other `:`): `thread_of` / `message_id_of` convert.

Loops: a mail is answered only when a person wrote it. RFC 3834 (Auto-Submitted), the
Precedence header of lists and bulk mail, mailing-list headers (RFC 2369/2919), the
usual robot senders and our own mails are never answered; our replies carry
`Auto-Submitted: auto-replied` so that other robots do not answer them either.
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

from hermes.platforms.render import render

OUR_MARKER = "hermes."  # the start of the local part of every Message-ID we make
MARK_HEADER = "X-Hermes-Delivery"  # on every mail we send: the ledger's part key
ROBOTS = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]daemon|postmaster|bounces?|"
    r"notifications?|daemon)([+-].*)?$",
    re.IGNORECASE,
)
REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|fw|fwd|wg)(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
QUOTE_HEAD = re.compile(r"^(On\s.+wrote:|-{2,}\s*Original Message\s*-{2,}|Le\s.+a écrit\s*:)\s*$")


@dataclass(frozen=True)
class Part:
    """An attachment of a received mail: its place among the mail's parts."""

    index: int
    name: str
    mime: str
    size: int


@dataclass(frozen=True)
class Mail:
    """A received mail, as the gateway needs it."""

    message_id: str  # <...>, or "" when it has none
    sender: str  # the From address, lowercase
    sender_name: str | None
    subject: str
    references: tuple[str, ...]  # References, then In-Reply-To if not in them
    text: str  # the new text (quoted history cut off)
    attachments: tuple[Part, ...]
    automated: str | None  # why no one may answer it, or None

    @property
    def root(self) -> str:
        """The Message-ID that starts its thread."""
        return self.references[0] if self.references else self.message_id


def parse(raw: bytes, own_address: str = "") -> Mail:
    """RAW (a whole mail as IMAP gives it) as a Mail. OWN_ADDRESS: ours, lowercase."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    name, address = email.utils.parseaddr(str(msg.get("From", "")))
    message_id = first_id(str(msg.get("Message-ID", "")))
    refs = ids(str(msg.get("References", "")))
    parent = first_id(str(msg.get("In-Reply-To", "")))
    if parent and parent not in refs:
        refs.append(parent)
    return Mail(
        message_id=message_id,
        sender=address.strip().lower(),
        sender_name=name.strip() or None,
        subject=" ".join(str(msg.get("Subject", "")).split()),
        references=tuple(refs),
        text=strip_quoted(body_text(msg)),
        attachments=tuple(attachments(msg)),
        automated=automated(msg, own_address),
    )


def ids(value: str) -> list[str]:
    """The Message-IDs in a References-like header, in order, each once."""
    found: list[str] = []
    for one in re.findall(r"<[^<>\s]+>", value):
        if one not in found:
            found.append(one)
    return found


def first_id(value: str) -> str:
    found = ids(value)
    if found:
        return found[0]
    bare = value.strip()
    return f"<{bare}>" if bare and " " not in bare else ""


def automated(msg: Message, own_address: str = "") -> str | None:
    """Why MSG must not be answered (a machine or a list sent it, or we did), or None."""
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto}"
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "list", "junk"):
        return f"Precedence: {precedence}"
    for header in ("List-Id", "List-Unsubscribe", "List-Post"):
        if msg.get(header) is not None:
            return f"{header} (a mailing list)"
    if msg.get(MARK_HEADER) is not None:
        return f"{MARK_HEADER} (sent by a Hermes)"
    _, sender = email.utils.parseaddr(str(msg.get("From", "")))
    sender = sender.strip().lower()
    if not sender:
        return "no From address"
    if own_address and sender == own_address.lower():
        return "from our own address"
    local = sender.split("@", 1)[0]
    if ROBOTS.match(local):
        return f"a robot's address ({sender})"
    own = first_id(str(msg.get("Message-ID", "")))
    if own.startswith(f"<{OUR_MARKER}"):
        return "a Message-ID of ours"
    return None


def body_text(msg: Message) -> str:
    """The mail's text: its text/plain part, else its HTML as text."""
    plain = html_part = None
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _decoded(part)
        elif kind == "text/html" and html_part is None:
            html_part = _decoded(part)
    if plain is not None:
        return plain.replace("\r\n", "\n").strip()
    return html_to_text(html_part or "")


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload())
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", errors="replace")


def html_to_text(markup: str) -> str:
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", "", markup)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</h\d>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    lines = [" ".join(line.split()) for line in html.unescape(text).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_quoted(text: str) -> str:
    """TEXT without the history a mail client quotes below a reply ("On ... wrote:"
    and the `>` lines after it). A mail that is all quote keeps its text."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if QUOTE_HEAD.match(line.strip()) and all(
            not rest.strip() or rest.lstrip().startswith(">") for rest in lines[i + 1 :]
        ):
            kept = "\n".join(lines[:i]).strip()
            return kept or text.strip()
    end = len(lines)
    while end and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")):
        end -= 1
    kept = "\n".join(lines[:end]).strip()
    return kept or text.strip()


def attachments(msg: Message) -> list[Part]:
    """The mail's attachments (and inline files that are not its text)."""
    found: list[Part] = []
    for index, part in enumerate(msg.walk()):
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        name = part.get_filename()
        if disposition != "attachment" and not name:
            continue
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        found.append(Part(index, name or f"part-{index}", part.get_content_type(), size))
    return found


def attachment_bytes(raw: bytes, index: int) -> bytes | None:
    """The decoded bytes of part INDEX (Part.index) of the mail RAW, or None."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    for i, part in enumerate(msg.walk()):
        if i == index and not part.is_multipart():
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None


def kind_of(mime: str) -> str:
    """An Attachment.kind from a MIME type."""
    major = mime.split("/", 1)[0]
    return major if major in ("audio", "image", "video") else "file"


# ----- threads as gateway targets ---------------------------------------------------------


def thread_of(message_id: str) -> str | None:
    """A Message-ID as a target's thread (no `<>`; `%` and `:` escaped), or None."""
    bare = message_id.strip().strip("<>")
    return bare.replace("%", "%25").replace(":", "%3A") or None


def message_id_of(thread: str) -> str:
    """The Message-ID a thread (from `thread_of`) stands for."""
    return "<" + thread.replace("%3A", ":").replace("%25", "%") + ">"


# ----- composing ------------------------------------------------------------------------


def reply_subject(subject: str) -> str:
    """`Re: SUBJECT`, once (earlier Re:/AW:/Fwd: prefixes folded into one)."""
    bare = REPLY_PREFIX.sub("", subject).strip()
    return f"Re: {bare}" if bare else "Re:"


def our_message_id(key: str, salt: str, address: str) -> str:
    """The Message-ID of the mail that carries ledger part KEY: the same for every try
    of that part (so a resend is recognisable), unique to this home (SALT)."""
    domain = address.rsplit("@", 1)[-1] if "@" in address else "hermes.local"
    digest = hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:20]
    safe = re.sub(r"[^A-Za-z0-9.]", ".", key)
    return f"<{OUR_MARKER}{safe}.{digest}@{domain}>"


def html_document(markdown: str) -> str:
    body = render(markdown, "matrix_html").text
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="font-family: sans-serif; line-height: 1.4">'
        f"{body}</body></html>"
    )


@dataclass(frozen=True)
class Reply:
    """What a mail we send says and where it goes."""

    sender: str  # our address
    sender_name: str
    to: str
    subject: str
    text: str  # Markdown: the plain part as it is, the HTML part rendered
    message_id: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    key: str | None = None  # the ledger's part key (MARK_HEADER)
    audio: bytes | None = None  # a spoken reply (OGG/Opus), attached as voice.ogg


def compose(reply: Reply) -> EmailMessage:
    """The mail for REPLY: plain text with an HTML alternative, threaded; a spoken
    reply's audio as an audio/ogg attachment."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = email.utils.formataddr((reply.sender_name, reply.sender))
    msg["To"] = reply.to
    msg["Subject"] = reply.subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = reply.message_id
    if reply.in_reply_to:
        msg["In-Reply-To"] = reply.in_reply_to
    if reply.references:
        msg["References"] = " ".join(reply.references)
    msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: robots must not answer it
    msg["X-Auto-Response-Suppress"] = "All"  # nor Exchange's out-of-office replies
    msg[MARK_HEADER] = reply.key or "-"
    msg.set_content(reply.text or " ")
    msg.add_alternative(html_document(reply.text), subtype="html")
    if reply.audio is not None:
        msg.add_attachment(reply.audio, maintype="audio", subtype="ogg", filename="voice.ogg")
    return msg


def thread_headers(
    parent: str | None, parent_refs: tuple[str, ...], root: str | None
) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To and References of a reply to PARENT (whose own References were
    PARENT_REFS) in the thread started by ROOT."""
    refs = list(parent_refs)
    if root and root not in refs:
        refs.insert(0, root)
    if parent and parent not in refs:
        refs.append(parent)
    if len(refs) > 20:  # the root and the latest: what clients thread by
        refs = [refs[0], *refs[-19:]]
    return parent or root, tuple(refs)
