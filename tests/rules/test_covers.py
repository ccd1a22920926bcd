"""A book's generated cover: drawn from its title and author, the same for
the same book, different for different books, and safe to put inline under
the site's Content-Security-Policy."""

import re
import xml.etree.ElementTree as ET

from catalog.covers import cover_svg

SVG = "{http://www.w3.org/2000/svg}"


def test_a_cover_is_the_same_each_time_and_differs_from_book_to_book():
    gatsby = cover_svg("The Great Gatsby", "F. Scott Fitzgerald", "9780743273565")

    assert cover_svg("The Great Gatsby", "F. Scott Fitzgerald", "9780743273565") == gatsby
    others = {cover_svg(f"Book {n}", "A. Writer", None) for n in range(12)}
    assert len(others) == 12
    colours = {re.search(r'<rect width="120" height="180" fill="(#\w+)"', cover)[1] for cover in others}
    assert len(colours) > 2  # the hash picks among the palettes


def test_a_cover_draws_the_title_and_the_author_as_text():
    cover = ET.fromstring(cover_svg("One Hundred Years of Solitude", "Gabriel García Márquez", "9780060883287"))

    texts = [text.text for text in cover.iter(f"{SVG}text")]
    assert " ".join(texts[:-1]) == "One Hundred Years of Solitude"
    assert texts[-1] == "Gabriel García Márquez"
    assert cover.get("aria-label") == "Cover of One Hundred Years of Solitude"


def test_a_long_title_is_cut_with_an_ellipsis():
    cover = ET.fromstring(cover_svg("The Structure and Interpretation of Computer Programs, Second Edition", "X"))

    lines = [text.text for text in cover.iter(f"{SVG}text")][:-1]
    assert len(lines) == 4 and lines[-1].endswith("…")


def test_a_cover_escapes_its_text_and_carries_no_style_nor_id():
    cover = cover_svg('<script>alert("x")</script> & Co', "Evil <b>Author</b>", None)

    parsed = ET.fromstring(cover)  # well-formed: the text is escaped
    assert "<script" not in cover and "<b>" not in cover
    assert not [element for element in parsed.iter() if "style" in element.attrib or "id" in element.attrib]
    assert not list(parsed.iter(f"{SVG}style"))
