"""Accessibility rules checked on the sources: colour contrast of the palette (WCAG AA) and named table columns."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

BABYOWL = Path(__file__).parents[1] / "babyowl"
CSS = (BABYOWL / "static" / "css" / "app.css").read_text()
AA_TEXT = 4.5


def palette() -> dict[str, str]:
    root = CSS[CSS.index(":root {"):CSS.index("}", CSS.index(":root {"))]
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", root))


def colour(value: str) -> str:
    value = value.strip()
    if value.startswith("var("):
        return palette()[value[len("var(--"):-1]]
    return value


def rule(selector: str) -> dict[str, str]:
    body = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", CSS).group(1)
    return {name.strip(): value.strip() for name, value in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body)}


def luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_is_computed_as_wcag_defines_it():
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#767676", "#fff") == pytest.approx(4.54, abs=0.01)


def test_avatar_initials_pass_aa_contrast():
    avatar = rule(".avatar")
    background = colour(avatar["background"])
    ink = colour(avatar["color"])
    assert contrast(ink, background) >= AA_TEXT, (ink, background)


@pytest.mark.parametrize("ink, background", [
    ("muted", "card"), ("muted", "bg"), ("ink", "bg"), ("brand", "card"), ("warn", "card"), ("bad", "card"),
    ("ok", "card"),
])
def test_text_colours_of_the_palette_pass_aa_contrast(ink, background):
    colours = palette()
    assert contrast(colours[ink], colours[background]) >= AA_TEXT


@pytest.mark.parametrize("background", ["ok", "warn", "bad", "brand"])
def test_white_on_the_marked_choices_passes_aa_contrast(background):
    assert contrast("#fff", palette()[background]) >= AA_TEXT


def test_every_table_column_has_a_header_a_screen_reader_can_read():
    empty = []
    for template in BABYOWL.joinpath("templates").rglob("*.html"):
        for line_number, line in enumerate(template.read_text().splitlines(), start=1):
            if re.search(r"<th(\s[^>]*)?>\s*</th>", line):
                empty.append(f"{template.relative_to(BABYOWL)}:{line_number}")
    assert empty == []
