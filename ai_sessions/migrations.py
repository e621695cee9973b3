"""Schema migrations: named, ordered functions, each applied once and recorded; never edit one,
add a new one at the end."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements inside the caller's transaction (``executescript`` would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    _run_script(db,
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            scope TEXT NOT NULL,
            model TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            system_prompt TEXT,
            fallback_reason TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            UNIQUE (scope, name)
        );
        CREATE TABLE messages (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            model TEXT,
            status TEXT NOT NULL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cost REAL,
            error TEXT,
            error_kind TEXT,
            created_at REAL NOT NULL,
            completed_at REAL,
            writer TEXT,
            UNIQUE (session_id, seq)
        );
        CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming';
        CREATE TABLE model_switches (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            from_model TEXT NOT NULL,
            to_model TEXT NOT NULL,
            message_index INTEGER NOT NULL,
            reason TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX model_switches_session ON model_switches(session_id);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            created_at REAL NOT NULL,
            payload TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_session ON events(session_id);
        """
    )


@migration
def m002_message_totals_index(db: sqlite3.Connection) -> None:
    """Session listings sum tokens and cost per session: a covering index keeps that scan off the rows
    (which hold the message text), 2.6x faster with 1,000 sessions of 50 messages."""
    db.execute("CREATE INDEX messages_totals ON messages(session_id, input_tokens, output_tokens, cost, created_at)")


@migration
def m003_message_parts(db: sqlite3.Connection) -> None:
    """Messages hold typed parts. ``parts`` is NULL for a text-only message (its text is ``content``, as in
    every row written before), else the JSON list of its parts; images and files are stored once per
    content hash in ``blobs`` and referenced through ``message_blobs`` (so a clear or delete can drop the
    ones no message uses any more). Usage gains the prompt-cache token counts."""
    _run_script(db,
        """
        ALTER TABLE messages ADD COLUMN parts TEXT;
        ALTER TABLE messages ADD COLUMN cache_read_tokens INTEGER;
        ALTER TABLE messages ADD COLUMN cache_write_tokens INTEGER;
        CREATE TABLE blobs (
            hash TEXT PRIMARY KEY,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            data BLOB NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE message_blobs (
            message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            hash TEXT NOT NULL,
            PRIMARY KEY (message_id, hash)
        );
        CREATE INDEX message_blobs_hash ON message_blobs(hash);
        """
    )


@migration
def m004_events_without_text(db: sqlite3.Connection) -> None:
    """Events keep ids and metadata, not the conversation's text again (it lived in the message rows and
    in two events per reply, and stayed after a clear). Events of messages that no longer exist go too."""
    _run_script(db,
        """
        UPDATE events SET payload = json_remove(payload, '$.content', '$.parts', '$.text', '$.prompt')
            WHERE json_valid(payload);
        DELETE FROM events WHERE session_id NOT IN (SELECT id FROM sessions);
        CREATE INDEX events_time ON events(created_at);
        """
    )


@migration
def m007_batch_jobs(db: sqlite3.Connection) -> None:
    """Jobs: a ``map`` over many inputs, live or through a provider's Batch API, kept so it survives kernel
    restarts. ``jobs`` holds what was asked (template, schema, request settings), the provider's job id
    and its last reported state; ``job_items`` one row per input (its key, prompt and request hash), written
    once; ``job_results`` the result of an item once it arrived: an item without a row is pending, and a
    result lands once (its primary key refuses a second). (m005 and m006 are taken by other work;
    migrations apply by name, so the gap is harmless.)"""
    _run_script(db,
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            scope TEXT NOT NULL,
            mode TEXT NOT NULL,
            model TEXT NOT NULL,
            provider_job_id TEXT,
            state TEXT NOT NULL,
            outcome TEXT,
            template TEXT NOT NULL,
            schema_name TEXT,
            schema TEXT,
            request TEXT NOT NULL DEFAULT '{}',
            input_kind TEXT NOT NULL,
            total INTEGER NOT NULL,
            counts TEXT NOT NULL DEFAULT '{}',
            estimate TEXT,
            error TEXT,
            parent_id TEXT,
            writer TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            ended_at REAL
        );
        CREATE INDEX jobs_scope ON jobs(scope, created_at);
        CREATE INDEX jobs_session ON jobs(session_id);
        CREATE INDEX jobs_provider_job ON jobs(provider_job_id) WHERE provider_job_id IS NOT NULL;
        CREATE TABLE job_items (
            job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            key TEXT NOT NULL,
            custom_id TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            prompt TEXT NOT NULL,
            PRIMARY KEY (job_id, position)
        ) WITHOUT ROWID;
        CREATE TABLE job_results (
            job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            status TEXT NOT NULL,
            text TEXT,
            data TEXT,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cache_read_tokens INTEGER,
            cache_write_tokens INTEGER,
            cost REAL,
            error TEXT,
            error_kind TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            completed_at REAL,
            PRIMARY KEY (job_id, position)
        ) WITHOUT ROWID;
        """
    )
