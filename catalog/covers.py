"""A book's cover, drawn from its title and author: an SVG, the same every
time for the same book (colours and pattern come from a hash of its ISBN,
or of its title when it has none), fetched from nowhere.

Drawn with presentation attributes only (``fill=``, ``font-size=``), never a
``style`` attribute or element, and with no ``id``: several covers inline on
one page cannot clash, and the site's Content-Security-Policy has nothing
to allow.
"""

import hashlib
import textwrap

from django.utils.html import escape

WIDTH, HEIGHT = 120, 180

# (background, pattern, panel, ink): dark covers with a light title panel.
PALETTES = (
    ("#1f3a5f", "#4f7cac", "#f4efe6", "#1f2933"),
    ("#6b2737", "#a8475b", "#f7efe9", "#2b1b1f"),
    ("#2d4a3e", "#5b8c6f", "#f1f4ec", "#1d2b24"),
    ("#4a3b6b", "#7d6aa8", "#f3f0f8", "#231c33"),
    ("#7a4b12", "#c0843a", "#fbf3e6", "#2e1f0d"),
    ("#184e52", "#3f8f94", "#eef6f5", "#10292b"),
    ("#3b3b3b", "#7a7a7a", "#f5f5f2", "#1c1c1c"),
    ("#8a2f1d", "#d0654b", "#fbf0ea", "#2f140d"),
)
PATTERNS = ("stripes", "dots", "rings", "chevrons")

TITLE_CHARACTERS_PER_LINE = 13
TITLE_LINES = 4
AUTHOR_CHARACTERS = 22


def cover_svg(title: str, author: str, isbn: str | None = None, *, label: str = "") -> str:
    """The cover of a book as an ``<svg>`` element (markup, escaped), sized
    by its ``viewBox`` (a 2:3 portrait) to whatever box holds it. ``label``
    names it to screen readers (``Cover of <title>`` by default)."""
    digest = hashlib.sha256((isbn or title).encode()).digest()
    background, pattern, panel, ink = PALETTES[digest[0] % len(PALETTES)]
    shapes = _pattern(PATTERNS[digest[1] % len(PATTERNS)], pattern, digest[2])
    lines = _title_lines(title)
    line_height = 13
    panel_top, panel_height = 62, 16 + line_height * len(lines)
    title_top = panel_top + 19
    texts = "".join(
        f'<text x="{WIDTH / 2:g}" y="{title_top + index * line_height}" text-anchor="middle" '
        f'font-size="{_title_size(line):g}" font-weight="bold" fill="{ink}">{escape(line)}</text>'
        for index, line in enumerate(lines)
    )
    author_line = textwrap.shorten(author, AUTHOR_CHARACTERS, placeholder="…") if author else ""
    return (
        f'<svg class="cover" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label or f"Cover of {title}")}" font-family="Georgia, serif" data-testid="cover">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{background}"/>'
        f"{shapes}"
        f'<rect x="10" y="{panel_top}" width="{WIDTH - 20}" height="{panel_height}" rx="3" fill="{panel}"/>'
        f"{texts}"
        f'<rect y="{HEIGHT - 30}" width="{WIDTH}" height="30" fill="{background}"/>'
        f'<text x="{WIDTH / 2:g}" y="{HEIGHT - 14}" text-anchor="middle" font-size="8.5" fill="{panel}">'
        f"{escape(author_line)}</text>"
        "</svg>"
    )


def _title_lines(title: str) -> list[str]:
    """The title broken into at most ``TITLE_LINES`` short lines, the last
    one ending in an ellipsis when the title does not fit."""
    lines = textwrap.wrap(title, TITLE_CHARACTERS_PER_LINE, break_long_words=False) or [""]
    if len(lines) > TITLE_LINES:
        rest = " ".join(lines[TITLE_LINES - 1 :])
        lines = [*lines[: TITLE_LINES - 1], textwrap.shorten(rest, TITLE_CHARACTERS_PER_LINE, placeholder="…")]
    return lines


def _title_size(line: str) -> float:
    """The font size of a title line: smaller for a long word, so it fits the panel."""
    return round(min(11.0, 11.0 * TITLE_CHARACTERS_PER_LINE / max(len(line), 1)), 1)


def _pattern(kind: str, colour: str, seed: int) -> str:
    """The shapes behind the title panel, in ``colour``; ``seed`` shifts them."""
    shift = seed % 12
    if kind == "stripes":
        return "".join(
            f'<rect x="{x - shift}" y="0" width="6" height="{HEIGHT}" fill="{colour}" transform="skewX(-20)"/>'
            for x in range(0, WIDTH + 80, 16)
        )
    if kind == "dots":
        return "".join(
            f'<circle cx="{x + (shift if row % 2 else 0)}" cy="{y}" r="3.5" fill="{colour}"/>'
            for row, y in enumerate(range(8, HEIGHT - 30, 17))
            for x in range(6, WIDTH, 17)
        )
    if kind == "rings":
        return "".join(
            f'<circle cx="{WIDTH - 20 + shift}" cy="{30 + shift}" r="{radius}" fill="none" stroke="{colour}" '
            f'stroke-width="4"/>'
            for radius in range(10, 200, 14)
        )
    return "".join(
        f'<path d="M0 {y} L{WIDTH / 2:g} {y - 18 - shift} L{WIDTH} {y}" fill="none" stroke="{colour}" '
        f'stroke-width="5"/>'
        for y in range(20, HEIGHT + 30, 20)
    )
