"""The message tree of a session: every message has a parent (the message before it on its branch), so an
edited question or a regenerated reply starts a new branch instead of destroying what came after.

A *branch* is a path from a first message to a leaf; its id is its leaf's id. The session's current
branch ends at ``sessions.head``; ``Session.messages`` is that path (what a model is sent). Checking out
any message id shows the most recent branch through it (its newest leaf), so the id of a branch that has
grown since still finds it.

The SQL here runs on the store's thread with the store's connection (see :class:`~ai_sessions.store.Store`);
:class:`Tree` is the pure part: branches, siblings and paths over the nodes of one session.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Node:
    """A message's place in the tree (no text)."""

    id: str
    parent_id: str | None
    seq: int
    role: str
    created_at: float


@dataclass(frozen=True)
class Branch:
    """One branch of a session: a path from a first message to a leaf.

    ``id`` is its last message's id (``s.checkout(branch.id)`` shows it); ``diverges_at`` is the position
    of its first message that no other branch shares (0 for a session's only branch); ``length`` counts
    its messages; ``current`` says whether it is the one shown and sent."""

    id: str
    diverges_at: int
    length: int
    current: bool
    updated_at: float

    def __repr__(self) -> str:
        mark = " current" if self.current else ""
        return f"<Branch {self.id[:8]} diverges_at={self.diverges_at} length={self.length}{mark}>"


@dataclass(frozen=True)
class Siblings:
    """Where a message stands among the messages sharing its parent (for the chat's "2/3" branch switcher):
    ``index`` is 0-based, ``previous``/``next`` are the neighbouring siblings' ids."""

    index: int
    count: int
    previous: str | None
    next: str | None

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "count": self.count, "previous": self.previous, "next": self.next}


class Tree:
    """The nodes of one session, with the questions the chat and the Python API ask of them."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.nodes = {node.id: node for node in nodes}

    @cached_property
    def _children(self) -> dict[str | None, list[Node]]:
        children: dict[str | None, list[Node]] = {}
        for node in sorted(self.nodes.values(), key=lambda n: n.seq):
            children.setdefault(node.parent_id if node.parent_id in self.nodes else None, []).append(node)
        return children

    def children(self, parent_id: str | None) -> list[Node]:
        """The messages after ``parent_id`` (the first messages for None), oldest first."""
        return self._children.get(parent_id, [])

    def path(self, leaf: str | None) -> list[Node]:
        """The messages from a first message to ``leaf``."""
        path: list[Node] = []
        node = self.nodes.get(leaf) if leaf is not None else None
        while node is not None:
            path.append(node)
            node = self.nodes.get(node.parent_id) if node.parent_id is not None else None
        path.reverse()
        return path

    def latest_leaf(self, message_id: str) -> str:
        """The newest leaf at or below ``message_id`` (the most recent branch through it)."""
        best = self.nodes[message_id]
        stack = [best]
        while stack:
            node = stack.pop()
            kids = self.children(node.id)
            if not kids and node.seq > best.seq:
                best = node
            stack.extend(kids)
        return best.id

    def leaves(self) -> list[Node]:
        return [node for node in self.nodes.values() if not self.children(node.id)]

    def branches(self, head: str | None) -> list[Branch]:
        """Every branch, oldest first (by its last message). The current branch usually ends at a leaf;
        after its last messages were deleted it may end where others go on, and is listed as its own."""
        ends = sorted(self.leaves(), key=lambda n: n.seq)
        if head in self.nodes and self.children(head):
            ends.append(self.nodes[head])
        result = []
        for end in ends:
            path = self.path(end.id)
            own = next((i for i in range(len(path) - 1, -1, -1)  # back to its last message with siblings
                        if len(self.children(self._parent(path[i]))) > 1), 0)
            result.append(Branch(end.id, own, len(path), end.id == head, end.created_at))
        return result

    def _parent(self, node: Node) -> str | None:
        return node.parent_id if node.parent_id in self.nodes else None

    def siblings(self, path: Sequence[str]) -> dict[str, Siblings]:
        """For each message of ``path`` that has siblings: its place among them."""
        found: dict[str, Siblings] = {}
        for message_id in path:
            node = self.nodes.get(message_id)
            if node is None:
                continue
            group = self.children(self._parent(node))
            if len(group) < 2:
                continue
            index = next(i for i, n in enumerate(group) if n.id == message_id)
            found[message_id] = Siblings(index, len(group), group[index - 1].id if index > 0 else None,
                                         group[index + 1].id if index + 1 < len(group) else None)
        return found

    def siblings_by_parent(self, path: Sequence[str]) -> dict[str, Siblings]:
        """Like :meth:`siblings` for a tree holding only groups of siblings (their parents absent)."""
        groups: dict[str | None, list[Node]] = {}
        for node in sorted(self.nodes.values(), key=lambda n: n.seq):
            groups.setdefault(node.parent_id, []).append(node)
        found: dict[str, Siblings] = {}
        for message_id in path:
            node = self.nodes.get(message_id)
            if node is None:
                continue
            group = groups[node.parent_id]
            index = next(i for i, n in enumerate(group) if n.id == message_id)
            found[message_id] = Siblings(index, len(group), group[index - 1].id if index > 0 else None,
                                         group[index + 1].id if index + 1 < len(group) else None)
        return found

    def removal(self, message_id: str, with_replies: bool) -> list[str]:
        """The ids that deleting ``message_id`` removes: it, and (a prompt) every reply to it."""
        ids = [message_id]
        if with_replies:
            ids += [n.id for n in self.children(message_id) if n.role == "assistant"]
        return ids


# -- SQL (store thread) -------------------------------------------------------------------------------------
def nodes(db: sqlite3.Connection, session_id: str) -> list[Node]:
    rows = db.execute("SELECT id, parent_id, seq, role, created_at FROM messages WHERE session_id=? ORDER BY seq",
                      (session_id,))
    return [Node(*row) for row in rows]


def siblings(db: sqlite3.Connection, session_id: str, path: Sequence[str]) -> dict[str, Siblings]:
    """:meth:`Tree.siblings` from the session's fork points only (messages sharing a parent), read through
    the ``(session_id, parent_id, seq)`` index: cheap for a long session with few branches."""
    rows = db.execute(
        "SELECT id, parent_id, seq, role, created_at FROM messages WHERE session_id = ?1 AND coalesce(parent_id, '') "
        "IN (SELECT coalesce(parent_id, '') FROM messages WHERE session_id = ?1 GROUP BY parent_id "
        "HAVING count(*) > 1)", (session_id,)).fetchall()
    if not rows:
        return {}
    return Tree(Node(*row) for row in rows).siblings_by_parent(path)


def head(db: sqlite3.Connection, session_id: str) -> str | None:
    """The last message of the current branch (the newest message if none is recorded)."""
    row = db.execute("SELECT coalesce(head, (SELECT id FROM messages WHERE session_id = sessions.id "
                     "ORDER BY seq DESC LIMIT 1)) FROM sessions WHERE id=?", (session_id,)).fetchone()
    return None if row is None else row[0]


def branch_rows(rows: Sequence[tuple[Any, ...]], head: str) -> list[tuple[Any, ...]]:
    """The rows of the branch ending at ``head``, first to last: ``rows`` are a session's message rows with
    the id first and the parent id last."""
    by_id = {row[0]: row for row in rows}
    path = []
    row = by_id.get(head)
    while row is not None:
        path.append(row)
        row = by_id.get(row[-1]) if row[-1] is not None else None
    path.reverse()
    return path


def latest_leaf(db: sqlite3.Connection, session_id: str, message_id: str) -> str | None:
    """The newest leaf at or below ``message_id`` (None if no such message in this session)."""
    row = db.execute(
        "WITH RECURSIVE below(id, seq) AS (SELECT id, seq FROM messages WHERE id=?2 AND session_id=?1 "
        "UNION ALL SELECT m.id, m.seq FROM messages m JOIN below ON m.session_id=?1 AND m.parent_id = below.id) "
        "SELECT id FROM below ORDER BY seq DESC LIMIT 1", (session_id, message_id)).fetchone()
    return None if row is None else row[0]


def set_head(db: sqlite3.Connection, session_id: str, message_id: str | None) -> None:
    db.execute("UPDATE sessions SET head=? WHERE id=?", (message_id, session_id))


def remove(db: sqlite3.Connection, session_id: str, ids: Sequence[str], new_head: str | None) -> None:
    """Delete ``ids``; what came after them moves up to their nearest remaining ancestor (their branches
    go on without them), positions below are renumbered, and the head becomes ``new_head``."""
    tree = Tree(nodes(db, session_id))
    gone = set(ids)

    def survivor(message_id: str | None) -> str | None:
        while message_id is not None and message_id in gone:
            node = tree.nodes.get(message_id)
            message_id = node.parent_id if node is not None else None
        return message_id

    moved = [(survivor(node.parent_id), node.id) for node in tree.nodes.values()
             if node.id not in gone and node.parent_id in gone]
    db.executemany("UPDATE messages SET parent_id=? WHERE id=?", moved)
    db.executemany("DELETE FROM messages WHERE id=?", [(message_id,) for message_id in ids])
    if moved:
        renumber(db, session_id)
    set_head(db, session_id, new_head)


def renumber(db: sqlite3.Connection, session_id: str) -> None:
    """Recompute every message's ``depth`` (its position on its branch) after parents changed."""
    tree = Tree(nodes(db, session_id))
    depths: dict[str, int] = {}
    stack = [(node, 0) for node in tree.children(None)]
    while stack:
        node, depth = stack.pop()
        depths[node.id] = depth
        stack.extend((kid, depth + 1) for kid in tree.children(node.id))
    db.executemany("UPDATE messages SET depth=? WHERE id=? AND depth IS NOT ?",
                   [(depth, message_id, depth) for message_id, depth in depths.items()])
