"""How a share page is rendered: the template, the sanitizer for a message's rich text,
and the headers that go with it (a strict Content Security Policy). Also used by the
audit's F11 check, which feeds the sanitizer the usual attacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nh3
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

# Rich text a model may produce, and nothing else: no scripts, styles, event handlers,
# iframes or images from elsewhere. nh3 (Ammonia) parses and rebuilds the HTML.
ALLOWED_TAGS = {"p", "br", "b", "strong", "i", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h1", "h2",
                "h3", "h4", "table", "thead", "tbody", "tr", "th", "td", "hr"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; "
                           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_templates = Environment(loader=FileSystemLoader(Path(__file__).parents[1] / "web" / "templates"),
                         autoescape=select_autoescape(default=True, default_for_string=True))


def rich_text(content: str) -> Markup:
    """Sanitized HTML of a message: tags outside the allow-list are removed, text is
    escaped, links get rel=noopener noreferrer."""
    cleaned = nh3.clean(content, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                        url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")
    return Markup(cleaned.replace("\n", "<br>\n"))  # noqa: S704 - nh3 output is safe HTML


_templates.filters["rich_text"] = rich_text


def share_page(item: dict[str, Any]) -> str:
    """The HTML page of a shared item (sharing.service.view)."""
    return _templates.get_template("share.html").render(**item)


def not_found_page() -> str:
    """The page a browser gets for a link that does not exist, has expired or was revoked."""
    return _templates.get_template("share_not_found.html").render()
