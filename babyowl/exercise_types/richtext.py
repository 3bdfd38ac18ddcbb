"""Author-written text made safe to show: Markdown rendering and HTML sanitising.

Markdown is rendered by markdown-it-py's CommonMark preset with raw HTML
turned off (HTML typed in Markdown is shown as text) plus tables; every piece
of HTML we store goes through nh3 (Ammonia) with one allow-list.
"""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "code": {"class"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
# Removed together with everything inside them, not just unwrapped.
REMOVED_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template", "textarea",
                        "select", "title", "svg", "math"}
URL_SCHEMES = {"http", "https", "mailto"}


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        # Images only over HTTPS or from this site: no mixed content, no tracking over http.
        lowered = value.strip().lower()
        if lowered.startswith("https://"):
            return value
        if lowered.startswith("//") or ":" in lowered.split("/", 1)[0]:
            return None
        return value
    if tag == "code" and attribute == "class":
        # Keep only the language marker of fenced code blocks ("language-python").
        kept = [name for name in value.split() if name.startswith("language-") and name[9:].replace("-", "").isalnum()]
        return " ".join(kept) or None
    return value


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=REMOVED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(source: str) -> str:
    """Markdown → sanitised HTML. Raw HTML in the source comes out as text."""
    return sanitize_html(_markdown.render(source))
