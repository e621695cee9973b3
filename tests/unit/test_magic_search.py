"""``%ai_session search`` (issue 13): the best matches of this notebook's sessions, or every notebook's."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from tests.unit.test_magics import ip, line, shub  # noqa: F401 (fixtures)


def test_search_lists_the_best_matches_with_where_they_are(ip, shub, make_hub):  # noqa: F811
    s = shub.session("notes")
    s.send("the okapi is a giraffid")
    other = make_hub(settings=shub.settings, scope="elsewhere.ipynb")
    other.session("far").send("an okapi far away")
    table = line(ip, "search okapi giraffid")
    assert table.columns == ("session", "message", "role", "snippet")
    assert [(row[0], row[1], row[2]) for row in table.rows] == [("notes", 0, "user"), ("notes", 1, "assistant")]
    assert "**okapi**" in table.rows[0][3]
    assert "<mark>" not in table._repr_html_() and "okapi" in table._repr_html_()
    everywhere = line(ip, "search okapi --all --limit 10")
    assert {row[0] for row in everywhere.rows} == {"notes", "far"}
    assert line(ip, "search zebra").caption == "no message matches 'zebra'"
    with pytest.raises(UsageError, match="limit"):
        line(ip, "search okapi --limit 0")
