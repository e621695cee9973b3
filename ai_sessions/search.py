"""Full-text search over the messages of every session (``hub.search``, the panel's search box,
``%ai_session search``).

The index is SQLite FTS5 over the ``messages`` table (migration ``m006_search_index``: Porter stemming, so
"values" finds "value"; prefix indexes for words being typed), kept in step by triggers, so an edit, a
delete or a clear never leaves a stale hit. A query is words, not FTS5 syntax: each word is matched as
typed (quotes and operators are just characters) and every word must occur. When the words as typed find
fewer hits than asked for, the last word also counts as a prefix (a search box finds as you type).

Ranking is FTS5's BM25. Ranking every match of a word found in most messages costs microseconds per
match, so only the newest :data:`RANK_WINDOW` matches are ranked (widened when too few of them are in the
notebook searched): a very common word finds recent messages first. Snippets are cut from the message's
text here, around the first matched word (FTS5's ``snippet()`` re-runs the whole match per row).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from .errors import AiSessionsError

#: The newest matches ranked by relevance (see the module docstring).
RANK_WINDOW = 2_000
MAX_LIMIT = 1_000
ELLIPSIS = "…"
#: Words shown before the first matched word, and in all.
SNIPPET_BEFORE, SNIPPET_WORDS = 6, 24
_WORD = re.compile(r"\w+", re.UNICODE)
_SPACE = re.compile(r"\s+")
_SUFFIXES = ("ing", "ed", "es", "s", "ly")


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


def fts_query(query: str, *, prefix: bool = False) -> str | None:
    """The FTS5 expression for words typed by a user (None if the query holds no word): each word quoted
    (so FTS5 syntax in it is just text), all required; with ``prefix`` the last one also as a prefix."""
    words = _WORD.findall(query)
    if not words:
        return None
    terms = [f'"{word}"' for word in words]
    if prefix:
        terms[-1] += "*"
    return " ".join(terms)


def check_query(query: object, limit: object) -> None:
    if not isinstance(query, str):
        raise AiSessionsError(f"the search query must be text, not {type(query).__name__}",
                              hint='e.g. hub.search("missing values")')
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise AiSessionsError(f"limit {limit!r} is not a whole number between 1 and {MAX_LIMIT:,}",
                              hint="e.g. limit=20")


def bold(pieces: tuple[tuple[str, bool], ...]) -> str:
    return "".join(f"**{text}**" if matched else text for text, matched in pieces)


def _stem(word: str) -> str:
    """A rough stem, only to mark words the index matched (Porter's is in SQLite)."""
    word = word.lower()
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def highlights(text: str, query: str, *, prefix: bool) -> tuple[tuple[str, bool], ...]:
    """The passage of ``text`` around its first word matching ``query``, as (text, matched) pieces."""
    words = _WORD.findall(query)
    stems = {_stem(w) for w in words}
    last = words[-1].lower() if words and prefix else None

    def matches(token: str) -> bool:
        lower = token.lower()
        return _stem(lower) in stems or any(lower.startswith(s) for s in stems if len(s) > 3) or bool(
            last and lower.startswith(last))

    tokens = list(_WORD.finditer(text))
    if not tokens:
        return ((text[:200], False),) if text else ()
    first = next((i for i, t in enumerate(tokens) if matches(t.group())), 0)
    start = max(0, first - SNIPPET_BEFORE)
    shown = tokens[start: start + SNIPPET_WORDS]
    begin, end = shown[0].start(), shown[-1].end()
    pieces: list[tuple[str, bool]] = []

    def add(piece: str, matched: bool) -> None:
        piece = _SPACE.sub(" ", piece)  # newlines and runs of spaces: one space
        if not piece:
            return
        if pieces and pieces[-1][1] == matched:
            pieces[-1] = (pieces[-1][0] + piece, matched)
        else:
            pieces.append((piece, matched))

    if begin > 0:
        add(f"{ELLIPSIS} ", False)
    cursor = begin
    for token in shown:
        add(text[cursor:token.start()], False)
        add(token.group(), matches(token.group()))
        cursor = token.end()
    rest = text[end:]
    if _WORD.search(rest):
        add(f" {ELLIPSIS}", False)
    elif rest.strip():  # closing punctuation ends the passage as written
        add(rest.strip(), False)
    return tuple(pieces)


# -- SQL (store thread) -------------------------------------------------------------------------------------
def search(db: sqlite3.Connection, query: str, *, scope: str | None, limit: int) -> list[SearchHit]:
    """The best ``limit`` messages for ``query`` in ``scope`` (every scope for None), best first."""
    exact = fts_query(query)
    if exact is None:
        return []
    prefix = False
    ranked = _ranked(db, exact, scope, limit)
    if len(ranked) < limit and len(_WORD.findall(query)[-1]) >= 2:  # a word being typed: as a prefix too
        ranked, prefix = _ranked(db, fts_query(query, prefix=True) or exact, scope, limit), True
    if not ranked:
        return []
    texts = dict(db.execute(f"SELECT rowid, content FROM messages WHERE rowid IN ({','.join('?' * len(ranked))})",
                            [row[0] for row in ranked]))
    hits = []
    for rowid, score, message_id, session_id, name, depth, role, created_at in ranked:
        pieces = highlights(texts.get(rowid, ""), query, prefix=prefix)
        hits.append(SearchHit(session_id, name, message_id, depth, role, created_at, bold(pieces), pieces, -score))
    return hits


def _ranked(db: sqlite3.Connection, expression: str, scope: str | None, limit: int) -> list[tuple]:
    """The ``limit`` best matches of ``expression`` in ``scope``, ranked among the newest matches."""
    in_scope = "AND s.scope = ?3 " if scope is not None else ""
    sql = ("SELECT f.rowid, bm25(message_search) AS score, m.id, m.session_id, s.name, m.depth, m.role, m.created_at "
           "FROM message_search f JOIN messages m ON m.rowid = f.rowid JOIN sessions s ON s.id = m.session_id "
           f"WHERE message_search MATCH ?1 AND f.rowid >= ?2 {in_scope}ORDER BY score LIMIT {int(limit)}")
    window = RANK_WINDOW
    while True:
        # the oldest match in the window (the index walks its matches newest first, without ranking them)
        row = db.execute("SELECT rowid FROM message_search WHERE message_search MATCH ? ORDER BY rowid DESC "
                         f"LIMIT 1 OFFSET {window - 1}", (expression,)).fetchone()
        floor = row[0] if row is not None else 0
        args: tuple[object, ...] = (expression, floor, scope) if scope is not None else (expression, floor)
        ranked = db.execute(sql, args).fetchall()
        if len(ranked) >= limit or row is None:
            return ranked
        window *= 4  # too few of the newest matches are in this scope: look further back


def optimize(db: sqlite3.Connection) -> None:
    """Merge the index's segments: deleted messages' words leave the index (SQLite 3.40 has no FTS5
    ``secure-delete``; until a merge, a deleted row's tokens stay in the segments)."""
    db.execute("INSERT INTO message_search(message_search) VALUES ('optimize')")
