"""MkDocs hook: the docs' LaTeX formulas become MathML when the site is built.

``pymdownx.arithmatex`` (generic mode) wraps each formula of the Markdown as
``<span class="arithmatex">\\( ... \\)</span>`` or ``<div class="arithmatex">\\[ ... \\]</div>``;
this hook replaces each wrapper by the MathML that ``latex2mathml`` makes of it. Browsers
render MathML themselves (MathML Core: Chromium 109+, Firefox, Safari), so the built site
needs no script, font or network to show the formulas. LaTeX's text-mode escapes inside
``\\text{...}`` (``\\_``, ``\\%``, ...) become their characters. A formula the converter cannot
read, or that would show a backslash (a command it does not know, kept as raw ``\\name``), stops
the build, naming the page and the formula.
"""
import html
import re

from mkdocs.exceptions import PluginError

try:
    from latex2mathml.converter import convert as latex_to_mathml
except ImportError as error:  # pragma: no cover - a message for a docs build without the extra
    raise PluginError("the docs need latex2mathml to turn formulas into MathML: "
                      "pip install -e '.[docs]' (or pip install latex2mathml)") from error

FORMULA = re.compile(
    r'<span class="arithmatex">\\\((?P<inline>.*?)\\\)</span>'
    r'|<div class="arithmatex">\\\[(?P<block>.*?)\\\]</div>',
    re.DOTALL,
)
# latex2mathml keeps what it does not know as text: <mi>\foo</mi>, <mtext>min\_size</mtext>
LEFTOVER_BACKSLASH = re.compile(r">([^<]*\\[^<]*)<")
MTEXT = re.compile(r"(<mtext[^>]*>)(.*?)(</mtext>)", re.DOTALL)
TEXT_ESCAPE = re.compile(r"\\([_%&#$\{\}])")


def formula_to_mathml(tex, display):
    """MathML ``<math>`` element for the LaTeX ``tex`` (``display``: a block formula).

    Raises ``ValueError`` when a backslash would be shown (a command the converter does not
    know); the converter's own errors (an unclosed environment, a missing subscript) pass through.
    """
    mathml = latex_to_mathml(tex.strip(), display="block" if display else "inline")
    mathml = MTEXT.sub(lambda m: m.group(1) + TEXT_ESCAPE.sub(lambda e: html.escape(e.group(1)), m.group(2))
                       + m.group(3), mathml)
    leftover = LEFTOVER_BACKSLASH.search(mathml)
    if leftover:
        raise ValueError(f"unknown command or escape, it would show as {leftover.group(1)!r}")
    return mathml


def on_page_content(html_text, page, **kwargs):
    """Replace every arithmatex formula of ``page`` by MathML."""

    def replace(match):
        display = match.group("block") is not None
        tex = html.unescape(match.group("block") if display else match.group("inline"))
        try:
            return formula_to_mathml(tex, display)
        except Exception as error:  # latex2mathml raises many kinds
            raise PluginError(f"{page.file.src_path}: cannot turn the formula {tex!r} into MathML "
                              f"({type(error).__name__}: {error})") from error

    return FORMULA.sub(replace, html_text)
