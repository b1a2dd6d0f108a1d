"""Rendering a notification e-mail's text and HTML bodies from the Jinja2 templates beside this
module (``templates/<name>.txt.j2`` and ``.html.j2``): the HTML is autoescaped, the text is not,
and a variable a template names but the caller forgot fails loudly instead of vanishing."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

_env = Environment(
    loader=PackageLoader("parlay.mail", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, **context: Any) -> tuple[str, str]:
    """The (text, html) bodies of template ``name``."""
    text = _env.get_template(f"{name}.txt.j2").render(**context)
    html = _env.get_template(f"{name}.html.j2").render(**context)
    return text, html
