"""The escaping of job data in the dashboard's Markdown, checked against CommonMark."""

from __future__ import annotations

import html

from markdown_it import MarkdownIt

from dashboards.views.markdown import code, text

RENDER = MarkdownIt("commonmark")


def test_escaped_text_renders_as_exactly_what_was_written() -> None:
    for value in ("![x](http://e/i.png)", "<b>&amp;</b>", "*a* _b_ `c` [d] ~e~", "# h", "a\\b"):
        assert RENDER.renderInline(text(value)) == html.escape(value), value


def test_escaped_text_is_one_line() -> None:
    assert text("a\n# b\r\nc\u2028d") == "a \\# b c d"


def test_a_code_span_holds_any_backticks_and_no_line_breaks() -> None:
    for value in ("plain", "`ticked`", "a``b", "x\ny"):
        html = RENDER.renderInline(code(value))
        assert html.startswith("<code>")
        assert html.endswith("</code>")
        assert "\n" not in html
