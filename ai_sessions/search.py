"""Full-text search over the messages of every session (``hub.search``, the panel's search box,
``%ai_session search``).

The index is SQLite FTS5 over the ``messages`` table (migration ``m006_search_index``), kept in step by
triggers, so an edit, a delete or a clear never leaves a stale hit. A query is words, not FTS5 syntax:
each word is matched as typed (quotes and operators are just characters), every word must occur, and
the last one also matches as a prefix (so a search box finds as you type).

Ranking is FTS5's BM25. Ranking every match of a word found in most messages would cost ~2 µs per
match, so when a query matches more than :data:`RANK_WINDOW` messages of the scope, only the newest
that many are ranked (a very common word finds recent messages first).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from .errors import AiSessionsError

#: The newest matches ranked by relevance when a query matches more (see the module docstring).
RANK_WINDOW = 5_000
MAX_LIMIT = 1_000
#: Highlight markers inside a snippet as the store returns it (private-use characters: never typed).
START, END = "\ue000", "\ue001"
ELLIPSIS = "…"
SNIPPET_TOKENS = 16
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SearchHit:
    """A message that matches a search.

    ``position`` is the message's place on its branch: ``s.messages[position]`` when that branch is the
    current one (``s.checkout(hit.message_id)`` makes it so). ``snippet`` is the matching passage with
    the matched words in ``**bold**``; ``highlights`` holds the same passage as (text, matched) pieces."""

    session_id: str
    session_name: str
    message_id: str
    position: int
    role: str
    created_at: float
    snippet: str
    highlights: tuple[tuple[str, bool], ...]
    score: float

    def __repr__(self) -> str:
        return f"<SearchHit {self.session_name!r}[{self.position}] {self.snippet!r}>"

    def to_dict(self) -> dict[str, object]:
        return {"session_id": self.session_id, "session_name": self.session_name, "message_id": self.message_id,
                "position": self.position, "role": self.role, "created_at": self.created_at,
                "snippet": self.snippet, "highlights": [{"text": text, "match": hit} for text, hit in self.highlights]}


def fts_query(query: str) -> str | None:
    """The FTS5 expression for words typed by a user (None if the query holds no word): each word quoted
    (so FTS5 syntax in it is just text), all required, the last one also as a prefix."""
    words = _WORD.findall(query)
    if not words:
        return None
    terms = [f'"{word}"' for word in words]
    terms[-1] += "*"
    return " ".join(terms)


def check_query(query: object, limit: object) -> None:
    if not isinstance(query, str):
        raise AiSessionsError(f"the search query must be text, not {type(query).__name__}",
                              hint='e.g. hub.search("missing values")')
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise AiSessionsError(f"limit {limit!r} is not a whole number between 1 and {MAX_LIMIT:,}",
                              hint="e.g. limit=20")


def highlights(snippet: str) -> tuple[tuple[str, bool], ...]:
    """A snippet with markers as (text, matched) pieces, neighbours of one kind joined."""
    pieces: list[tuple[str, bool]] = []
    for i, text in enumerate(re.split(f"[{START}{END}]", snippet)):
        if text:
            matched = i % 2 == 1
            if pieces and pieces[-1][1] == matched:
                pieces[-1] = (pieces[-1][0] + text, matched)
            else:
                pieces.append((text, matched))
    return tuple(pieces)


def bold(pieces: tuple[tuple[str, bool], ...]) -> str:
    return "".join(f"**{text}**" if matched else text for text, matched in pieces)


# -- SQL (store thread) -------------------------------------------------------------------------------------
def search(db: sqlite3.Connection, query: str, *, scope: str | None, limit: int) -> list[SearchHit]:
    """The best ``limit`` messages for ``query`` in ``scope`` (every scope for None), best first."""
    expression = fts_query(query)
    if expression is None:
        return []
    in_scope = "AND s.scope = ?2 " if scope is not None else ""
    joined = ("FROM message_search f JOIN messages m ON m.rowid = f.rowid JOIN sessions s ON s.id = m.session_id "
              f"WHERE message_search MATCH ?1 {in_scope}")
    args: tuple[object, ...] = (expression, scope) if scope is not None else (expression,)
    # the oldest message of the window (ranked matches are the newest RANK_WINDOW of the scope)
    row = db.execute(f"SELECT f.rowid {joined}ORDER BY f.rowid DESC LIMIT 1 OFFSET {RANK_WINDOW - 1}",
                     args).fetchone()
    floor = row[0] if row is not None else 0
    ranked = db.execute(
        "SELECT f.rowid, f.rank, m.id, m.session_id, s.name, m.depth, m.role, m.created_at "
        f"{joined}AND f.rowid >= {int(floor)} ORDER BY f.rank LIMIT {int(limit)}", args).fetchall()
    if not ranked:
        return []
    rowids = ",".join(str(int(r[0])) for r in ranked)
    snippets = dict(db.execute(
        f"SELECT rowid, snippet(message_search, 0, '{START}', '{END}', '{ELLIPSIS}', {SNIPPET_TOKENS}) "
        f"FROM message_search WHERE message_search MATCH ?1 AND rowid IN ({rowids})", (expression,)))
    hits = []
    for rowid, rank, message_id, session_id, name, depth, role, created_at in ranked:
        pieces = highlights(snippets.get(rowid, ""))
        hits.append(SearchHit(session_id, name, message_id, depth, role, created_at, bold(pieces), pieces, -rank))
    return hits


def optimize(db: sqlite3.Connection) -> None:
    """Merge the index's segments: deleted messages' words leave the index (SQLite 3.40 has no FTS5
    ``secure-delete``; until a merge, a deleted row's tokens stay in the segments)."""
    db.execute("INSERT INTO message_search(message_search) VALUES ('optimize')")
