"""The report page: one self-contained HTML file (figures inlined as PNG or SVG data
URIs), so it opens offline, attached to an e-mail or copied off a cluster."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222;
       line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
p.meta, figcaption, .note { color: #555; font-size: 0.92em; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right;
         white-space: nowrap; }
th { background: #f4f4f4; }
td.text, th.text { text-align: left; }
p.note { background: #fdecee; border-left: 4px solid #d1495b; padding: 0.4em 0.8em;
         color: #222; }
.missing { background: #fff7e0; border-left: 4px solid #edae49; padding: 0.4em 0.8em; }
code { background: #f4f4f4; padding: 0 0.25em; }
"""


@dataclass
class Figure:
    """A figure of the page: the image shown (``mime``: PNG or SVG bytes), the file
    it links to (the figure as written: PNG, SVG or PDF) and caption."""

    png: bytes
    filename: str
    caption: str
    mime: str = "image/png"


@dataclass
class Section:
    """A titled part of the page."""

    title: str
    intro: str = ""
    figures: list[Figure] = field(default_factory=list)
    table: str = ""
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings: e.g. flat policies


def table(columns: list[str], rows: list[list[object]], text_columns: int = 1) -> str:
    """An HTML table; the first ``text_columns`` columns left-aligned."""

    def cell(tag, index, value):
        kind = ' class="text"' if index < text_columns else ""
        return f"<{tag}{kind}>{html.escape(str(value))}</{tag}>"

    head = "".join(cell("th", i, c) for i, c in enumerate(columns))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    caption = html.escape(figure.caption)
    name = html.escape(figure.filename)
    return (
        f'<figure><img src="data:{figure.mime};base64,{data}" alt="{caption}" '
        f'data-file="{name}">'
        f'<figcaption>{caption} (<a href="{name}">{name}</a>)</figcaption></figure>'
    )


def _section(section: Section) -> str:
    parts = [f"<h2>{html.escape(section.title)}</h2>"]
    if section.intro:
        parts.append(f"<p>{html.escape(section.intro)}</p>")
    for line in section.notes:
        parts.append(f'<p class="note">Warning: {html.escape(line)}</p>')
    parts.extend(_figure(f) for f in section.figures)
    parts.append(section.table)
    for line in section.missing:
        parts.append(f'<p class="missing">Not available: {html.escape(line)}</p>')
    return "\n".join(parts)


def page(title: str, meta: list[str], runs_table: str, sections: list[Section]) -> str:
    """The whole page."""
    metas = "".join(f'<p class="meta">{html.escape(m)}</p>' for m in meta)
    body = "\n".join(_section(s) for s in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{metas}{runs_table}\n{body}\n</body></html>\n"
    )
