"""The ``{% cover book %}`` tag: a book's generated cover, inline."""

from django import template
from django.utils.safestring import mark_safe

from ..covers import cover_svg

register = template.Library()


@register.simple_tag
def cover(book):
    """The cover of ``book`` (a row or a ``BookView``: its title, author and
    ISBN) as inline SVG, escaped by ``cover_svg`` itself."""
    return mark_safe(cover_svg(book.title, book.author, book.isbn))  # noqa: S308 -- cover_svg escapes the text
