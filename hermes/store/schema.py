"""state.db's schema: the ordered migration steps (applied by hermes/store/db.py).

Schema (steps 0001-0003):

- ``sessions``: one conversation. ``id`` is ``YYYYMMDD_HHMMSS_xxxxxx`` (local
  time of creation + 6 hex digits); ``todo`` holds the todo list as JSON.
- ``messages``: ``id`` grows monotonically (AUTOINCREMENT: ids of deleted rows
  are never reused). ``seq`` is the position in the context: appended messages
  get the session's largest ``seq`` + 1; a compaction summary takes the
  ``seq`` of the first message it replaces, so it loads first. Context order
  is ``ORDER BY seq, id`` over rows with ``compacted = 0``. ``kind`` is
  ``message`` or ``summary``; ``tool_calls`` is a JSON list or NULL.
- ``messages_fts``: FTS5 external-content index over ``messages.content``,
  tokenizer ``porter unicode61 remove_diacritics 2`` (case- and
  accent-insensitive, English stemming). Only non-empty ``user`` and
  ``assistant`` content is indexed (summaries are ``user`` rows, so they are
  too); tool outputs and system prompts are not: they are often huge (files,
  logs) and would drown the conversation in matches. Triggers keep the index
  in sync on insert, delete (cascades from session deletion included) and
  update; their conditions must stay identical. Never run the FTS5
  ``rebuild`` command: it would index every row, tool outputs included.
- ``usage``: one row per model call, summed per session.

Gateway (step 0004, see hermes/store/gateway_ops.py and pairing_ops.py):

- ``inbound``: every accepted platform message, stored before it is
  acknowledged. ``(platform, external_id)`` is unique, so a redelivered
  update is dropped. ``status``: pending -> running -> done | failed; rows
  left ``running`` by a crash are resumed at the next start.
  ``user_message_id`` is the session message the turn started from.
- ``deliveries``: the outbound ledger. ``key`` is the idempotency key (one
  row per reply, however often it is retried); ``parts_sent`` counts the
  parts of a split reply already delivered, so a retry never repeats one.
  ``status``: pending -> sending (leased until ``lease_until``) -> sent |
  failed.
- ``chat_sessions``: session key (profile:platform:chat:thread[:user]) ->
  the chat's current session.
- ``kv``: small named values (Telegram's update offset, the home channel).
- ``pairing_codes``, ``paired_users``, ``pairing_failures``: who may talk to
  the bot (hermes/gateway/access.py).

Tasks and approvals (step 0005, see hermes/store/task_ops.py and
approval_ops.py):

- ``inbound.status`` gains ``waiting``: the turn is suspended on an approval.
- ``tasks``: background, walkaway, delegated and cron runs. ``id`` is
  ``bg_HHMMSS_xxxxxx`` (``wk_``, ``dl_``, ``cr_`` for the other kinds);
  ``origin`` is the chat (PLATFORM:CHAT[:THREAD]) results go to; ``status``:
  queued -> running <-> waiting_approval -> done | failed | cancelled.
- ``task_events``: a task's progress (``progress``, ``tool``, ``note``) and
  the user's ``steer`` messages (``handled`` once the task has read them).
- ``approvals``: one row per gated tool call, ``(session_id, tool_call_id)``
  unique (the ids are Hermes' own; step 0007 binds the row to the exact
  action). ``owner`` is ``inbound:ID``
  or ``task:ID`` (the work to resume); ``status``: pending -> approved |
  denied | cancelled; ``resumed`` is set once the owner picked the decision up.

Cron (step 0006, see hermes/store/cron_ops.py):

- ``cron_jobs``: ``schedule`` is the canonical text (hermes/cron/schedule.py);
  ``deliver`` is origin | home | none | PLATFORM:CHAT[:THREAD]; ``origin`` the
  chat the job was created in; ``status``: active | paused | done (a one-shot
  job that ran); ``next_run_at`` is NULL unless active.
- ``cron_runs``: one row per claimed run, ``(job_id, due_at)`` unique. The claim
  is the transaction that inserts this row, the run's task (``tasks.job_id``)
  and moves ``next_run_at`` on: a run is claimed once, by one process.

The gate (step 0007): an approval is bound to the exact action, not to a
tool-call id: ``action_hash`` is the SHA-256 of (tool, canonical arguments,
cwd, backend), which are stored beside it (``args`` as canonical JSON); a
decision applies only to a call whose action hashes the same. ``requester``
(on approvals and tasks) is ``PLATFORM:USER`` of whoever started the work:
with ``approvals.deciders`` the only chat users who may decide it.

Skipped updates (step 0008, see hermes/store/skipped_ops.py):

- ``skipped_updates``: a platform update an adapter could not read or handle
  after a few tries (hermes/platforms/adapter.py, UpdateGuard), recorded
  once per ``(platform, update_id)`` and then skipped. ``error`` is one line;
  ``raw`` the update as JSON, cut to 2,000 characters. `hermes doctor` and the
  dashboard show the recent ones.

Leftovers of a killed gateway (step 0009, see hermes/store/leftover_ops.py):

- ``tool_processes``: one row per process group a tool started (``kind``
  foreground | background; ``proc_id`` names a background one), written when it
  starts and deleted when it ends. ``start_ticks`` (field 22 of /proc/PID/stat)
  and ``boot_id`` tell our process from a recycled pid. Rows still ``running``
  at the next start are leftovers: their groups are killed and the rows become
  ``killed`` or ``gone`` (``outcome`` says what was found) until the resumed
  turn of their session has reported them.
- ``inbound.draft_id``: the message id of the turn's streamed draft, so a
  turn resumed after a crash can edit its stray draft.

Cost, chats and kept cron results (step 0010):

- ``usage.cost``: USD for the call as the provider reported it (OpenRouter's
  ``usage.cost``); NULL when it did not (``usage.prices`` in config.yaml
  prices those calls when they are shown, see hermes/usage.py).
- ``cron_runs.undelivered``: why the run's result could not be delivered
  (no home channel, a platform not connected); the result stays in its task.
  ``late_at``: when it was delivered late (or given up as too old).
- ``chats``: every chat a message came from, with the name its platform gives
  (a Telegram group's title, a user's name), kept up to date by a trigger on
  ``inbound``; the dashboard shows names, and ``hermes send web:CHAT`` only
  sends to a web chat that exists.

Skills (step 0012, see hermes/store/skill_ops.py and hermes/skills/):

- ``skill_usage``: per skill name, ``views`` (skill_view calls), ``uses``
  (sessions that opened it), ``last_used_at``, ``created_by`` agent | user |
  bundled (a skill with no row counts as the user's own), ``archived_at`` when
  the curator moved it to skills/.archive/.
- ``skill_proposals``: a staged change. ``kind`` skill | memory; ``action``
  create | patch | delete (skill) or edit (memory); ``target`` the skill name or
  ``user`` / ``memory`` (memories/USER.md, MEMORY.md); ``content`` the whole new
  text (NULL for delete); ``base_hash`` the SHA-256 of the target's text when
  staged ('' when absent): a proposal applies only while the target still hashes
  the same, else it becomes ``stale``. ``status``: pending -> applied | rejected
  | stale; applied -> rolled_back. ``previous`` is the text it replaced (NULL:
  absent), ``moved_to`` where a deleted skill's folder went.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Step = str | Callable[[sqlite3.Connection], None]
Migration = tuple[str, Step]
_SESSIONS_MESSAGES = """
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    title       TEXT,
    model       TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    todo        TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX sessions_by_updated ON sessions(updated_at);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id    TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL DEFAULT 'message',
    role          TEXT NOT NULL,
    content       TEXT NOT NULL DEFAULT '',
    tool_calls    TEXT,
    tool_call_id  TEXT,
    name          TEXT,
    created_at    REAL NOT NULL,
    compacted     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_by_session ON messages(session_id, seq);
"""

_FTS = """
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content,
    content='messages',
    content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN new.role IN ('user', 'assistant') AND new.content <> ''
BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.role IN ('user', 'assistant') AND old.content <> ''
BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;

-- One trigger, so the old entry is removed before the new one is added
-- (SQLite does not promise an order between two triggers).
CREATE TRIGGER messages_fts_update AFTER UPDATE OF role, content ON messages
BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.id, old.content
        WHERE old.role IN ('user', 'assistant') AND old.content <> '';
    INSERT INTO messages_fts(rowid, content)
        SELECT new.id, new.content
        WHERE new.role IN ('user', 'assistant') AND new.content <> '';
END;
"""

_USAGE = """
CREATE TABLE usage (
    id                 INTEGER PRIMARY KEY,
    session_id         TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    model              TEXT,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    cached_tokens      INTEGER NOT NULL DEFAULT 0,
    created_at         REAL NOT NULL
);
CREATE INDEX usage_by_session ON usage(session_id);
"""

_GATEWAY = """
CREATE TABLE inbound (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    platform         TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    session_key      TEXT NOT NULL,
    event            TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending',
    session_id       TEXT,
    user_message_id  INTEGER,
    received_at      REAL NOT NULL,
    finished_at      REAL,
    error            TEXT,
    UNIQUE (platform, external_id)
);
CREATE INDEX inbound_open ON inbound(status) WHERE status IN ('pending', 'running');

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    key              TEXT NOT NULL UNIQUE,
    platform         TEXT NOT NULL,
    chat             TEXT NOT NULL,
    thread           TEXT,
    text             TEXT NOT NULL,
    buttons          TEXT,
    reply_to         TEXT,
    edit_message_id  TEXT,
    parts_sent       INTEGER NOT NULL DEFAULT 0,
    message_ids      TEXT NOT NULL DEFAULT '[]',
    status           TEXT NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL NOT NULL,
    lease_until      REAL,
    error            TEXT,
    created_at       REAL NOT NULL,
    sent_at          REAL,
    reported         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);

CREATE TABLE chat_sessions (
    key         TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    updated_at  REAL NOT NULL
);

CREATE TABLE kv (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

CREATE TABLE pairing_codes (
    platform    TEXT NOT NULL,
    code        TEXT NOT NULL,
    user        TEXT NOT NULL,
    user_name   TEXT,
    chat        TEXT,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL,
    PRIMARY KEY (platform, code)
);

CREATE TABLE paired_users (
    platform     TEXT NOT NULL,
    user         TEXT NOT NULL,
    user_name    TEXT,
    approved_at  REAL NOT NULL,
    PRIMARY KEY (platform, user)
);

CREATE TABLE pairing_failures (
    platform  TEXT NOT NULL,
    at        REAL NOT NULL
);
"""

_TASKS_APPROVALS = """
CREATE TABLE tasks (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    prompt           TEXT NOT NULL,
    origin           TEXT,
    status           TEXT NOT NULL DEFAULT 'queued',
    session_id       TEXT,
    user_message_id  INTEGER,
    result           TEXT,
    error            TEXT,
    created_at       REAL NOT NULL,
    started_at       REAL,
    finished_at      REAL
);
CREATE INDEX tasks_open ON tasks(status) WHERE status IN ('queued', 'running', 'waiting_approval');

CREATE TABLE task_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id  TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    at       REAL NOT NULL,
    kind     TEXT NOT NULL,
    text     TEXT NOT NULL,
    handled  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX task_events_task ON task_events(task_id, id);

CREATE TABLE approvals (
    id               TEXT PRIMARY KEY,
    status           TEXT NOT NULL DEFAULT 'pending',
    risk             TEXT NOT NULL,
    reason           TEXT NOT NULL,
    tool             TEXT NOT NULL,
    action           TEXT NOT NULL,
    tool_call_id     TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    owner            TEXT NOT NULL,
    origin           TEXT,
    created_at       REAL NOT NULL,
    auto_approve_at  REAL,
    decided_at       REAL,
    decided_by       TEXT,
    resumed          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (session_id, tool_call_id)
);
CREATE INDEX approvals_open ON approvals(status, resumed);
"""

_CRON = """
CREATE TABLE cron_jobs (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    schedule     TEXT NOT NULL,
    prompt       TEXT NOT NULL,
    deliver      TEXT NOT NULL,
    origin       TEXT,
    profile      TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'active',
    next_run_at  REAL,
    last_run_at  REAL,
    last_task_id TEXT,
    runs         INTEGER NOT NULL DEFAULT 0,
    created_by   TEXT NOT NULL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL
);
CREATE INDEX cron_due ON cron_jobs(next_run_at) WHERE status = 'active';

CREATE TABLE cron_runs (
    job_id      TEXT NOT NULL,
    due_at      REAL NOT NULL,
    task_id     TEXT NOT NULL,
    claimed_at  REAL NOT NULL,
    claimed_by  TEXT NOT NULL,
    PRIMARY KEY (job_id, due_at)
);

ALTER TABLE tasks ADD COLUMN job_id TEXT;
"""

_GATE = """
ALTER TABLE approvals ADD COLUMN action_hash TEXT;
ALTER TABLE approvals ADD COLUMN args TEXT;
ALTER TABLE approvals ADD COLUMN cwd TEXT;
ALTER TABLE approvals ADD COLUMN backend TEXT;
ALTER TABLE approvals ADD COLUMN requester TEXT;
ALTER TABLE tasks ADD COLUMN requester TEXT;
"""

_SKIPPED = """
CREATE TABLE skipped_updates (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    update_id   TEXT NOT NULL,
    error       TEXT NOT NULL,
    raw         TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    skipped_at  REAL NOT NULL,
    UNIQUE (platform, update_id)
);
CREATE INDEX skipped_updates_at ON skipped_updates(skipped_at);
"""

_TOOL_PROCESSES = """
CREATE TABLE tool_processes (
    id           INTEGER PRIMARY KEY,
    pid          INTEGER NOT NULL,
    pgid         INTEGER NOT NULL,
    start_ticks  INTEGER,
    boot_id      TEXT,
    command      TEXT NOT NULL,
    cwd          TEXT NOT NULL,
    kind         TEXT NOT NULL,
    proc_id      TEXT,
    session_id   TEXT,
    started_at   REAL NOT NULL,
    status       TEXT NOT NULL DEFAULT 'running',
    outcome      TEXT,
    ended_at     REAL
);
CREATE INDEX tool_processes_session ON tool_processes(session_id, status);

ALTER TABLE inbound ADD COLUMN draft_id TEXT;
"""

_USAGE_COST_CHATS = (
    # usage: the cost as the provider reported it (USD; NULL when it did not)
    "ALTER TABLE usage ADD COLUMN cost REAL",
    "CREATE INDEX usage_by_time ON usage(created_at)",
    # cron runs whose result could not be delivered: why, and when it was delivered late
    "ALTER TABLE cron_runs ADD COLUMN undelivered TEXT",
    "ALTER TABLE cron_runs ADD COLUMN late_at REAL",
    "CREATE INDEX cron_runs_kept ON cron_runs(task_id)"
    " WHERE undelivered IS NOT NULL AND late_at IS NULL",
    """CREATE TABLE chats (
    platform   TEXT NOT NULL,
    chat       TEXT NOT NULL,
    name       TEXT,
    last_seen  REAL NOT NULL,
    PRIMARY KEY (platform, chat)
)""",
    """CREATE TRIGGER chats_seen AFTER INSERT ON inbound
BEGIN
    INSERT INTO chats(platform, chat, name, last_seen)
        VALUES (new.platform, json_extract(new.event, '$.chat'),
                json_extract(new.event, '$.chat_name'), new.received_at)
        ON CONFLICT(platform, chat) DO UPDATE SET
            name = COALESCE(excluded.name, chats.name),
            last_seen = MAX(excluded.last_seen, chats.last_seen);
END""",
    """INSERT INTO chats(platform, chat, name, last_seen)
    SELECT platform, json_extract(event, '$.chat'), json_extract(event, '$.chat_name'),
           received_at
    FROM inbound WHERE json_extract(event, '$.chat') IS NOT NULL ORDER BY id
    ON CONFLICT(platform, chat) DO UPDATE SET
        name = COALESCE(excluded.name, chats.name),
        last_seen = MAX(excluded.last_seen, chats.last_seen)""",
)


def _usage_cost_chats(conn: sqlite3.Connection) -> None:
    for statement in _USAGE_COST_CHATS:
        conn.execute(statement)
    # chats older than the kept inbound rows: their session keys
    # (profile:platform:chat:thread[:user]; a profile name has no ':')
    rows = conn.execute("SELECT key, updated_at FROM chat_sessions").fetchall()
    for key, updated_at in rows:
        parts = str(key).split(":")
        if len(parts) >= 3 and parts[1] and parts[2]:
            conn.execute(
                "INSERT INTO chats(platform, chat, last_seen) VALUES (?, ?, ?)"
                " ON CONFLICT(platform, chat) DO NOTHING",
                (parts[1], parts[2], updated_at),
            )


# /voice on|off|only per chat, and whether a reply is spoken (deliveries.voice: NULL
# text only, 'on' text then a voice note, 'only' the voice note alone)
_VOICE = """
ALTER TABLE chats ADD COLUMN voice TEXT NOT NULL DEFAULT 'off';
ALTER TABLE deliveries ADD COLUMN voice TEXT;
"""

# delegated tasks: the session and tool call that started them (a rerun of the call
# finds its children instead of starting more), their depth, the wall-clock deadline,
# and whether the parent waits for the result (else it comes as a new turn: reported)
_DELEGATION = """
ALTER TABLE tasks ADD COLUMN parent TEXT;
ALTER TABLE tasks ADD COLUMN call_id TEXT;
ALTER TABLE tasks ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN deadline REAL;
ALTER TABLE tasks ADD COLUMN waited INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN reported_at REAL;
CREATE INDEX tasks_call ON tasks(call_id) WHERE call_id IS NOT NULL;
CREATE INDEX tasks_parent ON tasks(parent) WHERE parent IS NOT NULL;
"""

# the skills loop (hermes/skills/, hermes/store/skill_ops.py): usage per skill, and
# proposals staged against the SHA-256 of what they change
_SKILLS = """
CREATE TABLE skill_usage (
    name          TEXT PRIMARY KEY,
    created_by    TEXT NOT NULL DEFAULT 'user',
    created_at    REAL NOT NULL,
    views         INTEGER NOT NULL DEFAULT 0,
    uses          INTEGER NOT NULL DEFAULT 0,
    last_used_at  REAL,
    last_session  TEXT,
    archived_at   REAL
);

CREATE TABLE skill_proposals (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    content     TEXT,
    base_hash   TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT 'agent',
    status      TEXT NOT NULL DEFAULT 'pending',
    previous    TEXT,
    moved_to    TEXT,
    note        TEXT,
    created_at  REAL NOT NULL,
    decided_at  REAL
);
CREATE INDEX skill_proposals_by_status ON skill_proposals(status, created_at);
"""

# the part of a reply being sent right now (NULL between sends): a row its sender
# left with a part in flight was maybe delivered, maybe not; it becomes 'unknown'
# and the chat is told, rather than being sent again (gateway_ops.settle_in_flight)
_INFLIGHT = """
ALTER TABLE deliveries ADD COLUMN inflight INTEGER;
"""

# which gateway process started a tool's process (a cluster's replica id; NULL on
# one machine): a replica that takes over ends only the processes of dead ones
_PROCESS_OWNER = """
ALTER TABLE tool_processes ADD COLUMN owner TEXT;
"""

MIGRATIONS: list[Migration] = [
    ("0001_sessions_messages", _SESSIONS_MESSAGES),
    ("0002_messages_fts", _FTS),
    ("0003_usage", _USAGE),
    ("0004_gateway", _GATEWAY),
    ("0005_tasks_approvals", _TASKS_APPROVALS),
    ("0006_cron", _CRON),
    ("0007_gate_actions", _GATE),
    ("0008_skipped_updates", _SKIPPED),
    ("0009_tool_processes", _TOOL_PROCESSES),
    ("0010_usage_cost_chats", _usage_cost_chats),
    ("0011_voice", _VOICE),
    ("0012_skills", _SKILLS),
    ("0013_delegation", _DELEGATION),
    ("0014_inflight", _INFLIGHT),
    ("0015_process_owner", _PROCESS_OWNER),
]
