"""The docs site works offline: no page loads a script, stylesheet, font or picture from another
host, and the formulas are MathML made at build time (docs/hooks/mathml.py), not raw LaTeX.

Run as a script on a built site (tools/check_docs_offline.sh does):
``python tests/test_docs_offline.py SITE_DIR`` prints what it finds and exits 1 on a problem.
"""
import importlib.util
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
CSS_REMOTE = re.compile(r"(@import\s+|url\(\s*)[\"']?\s*(https?:)?//", re.IGNORECASE)
# <link rel=...> values that only name a page, never load it
PAGE_LINK_RELS = {"canonical", "alternate", "prev", "next", "author", "license", "help", "search"}
FORMULA_IN_MARKDOWN = re.compile(r"\\\(.+?\\\)|\\\[.+?\\\]", re.DOTALL)
RAW_LATEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|class=\"arithmatex\"")
MATH_ELEMENT = re.compile(r"<math.*?</math>", re.DOTALL)
SHOWN_BACKSLASH = re.compile(r">[^<]*\\[^<]*<")


class _RemoteAssets(HTMLParser):
    """Collects ``(tag, attribute, url)`` of everything a page would fetch from another host."""

    def __init__(self):
        super().__init__()
        self.found = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        for key in ("src", "data", "poster"):
            if REMOTE.match(attrs.get(key, "")):
                self.found.append((tag, key, attrs[key]))
        for url in attrs.get("srcset", "").split(","):
            if REMOTE.match(url):
                self.found.append((tag, "srcset", url.strip()))
        rels = set(attrs.get("rel", "").lower().split())
        if tag == "link" and REMOTE.match(attrs.get("href", "")) and not rels <= PAGE_LINK_RELS:
            self.found.append((tag, "href", attrs["href"]))
        if CSS_REMOTE.search(attrs.get("style", "")):
            self.found.append((tag, "style", attrs["style"]))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style and CSS_REMOTE.search(data):
            self.found.append(("style", "text", CSS_REMOTE.search(data).group(0)))


def remote_assets(site):
    """``["page: <tag attr=url>", ...]`` for every remote asset in the HTML and CSS files of ``site``."""
    problems = []
    for page in sorted(Path(site).rglob("*.html")):
        parser = _RemoteAssets()
        parser.feed(page.read_text(encoding="utf-8"))
        problems += [f"{page.relative_to(site)}: <{tag} {key}={url}>" for tag, key, url in parser.found]
    for sheet in sorted(Path(site).rglob("*.css")):
        for match in CSS_REMOTE.finditer(sheet.read_text(encoding="utf-8", errors="replace")):
            problems.append(f"{sheet.relative_to(site)}: {match.group(0)}")
    return problems


def math_problems(site, docs=REPO / "docs"):
    """Pages whose formulas are not all MathML: raw LaTeX left, or fewer ``<math>`` than formulas."""
    problems = []
    for source in sorted(Path(docs).glob("*.md")):
        formulas = len(FORMULA_IN_MARKDOWN.findall(source.read_text(encoding="utf-8")))
        if not formulas:
            continue
        built = Path(site) / ("index.html" if source.stem == "index" else f"{source.stem}/index.html")
        text = built.read_text(encoding="utf-8")
        article = text[text.find("<article"):text.find("</article>")]
        raw = RAW_LATEX.search(article)
        if raw:
            problems.append(f"{built.relative_to(site)}: raw LaTeX left ({raw.group(0)!r} at "
                            f"{article[max(0, raw.start() - 40):raw.end() + 40]!r})")
        shown = [m.group(0) for m in map(SHOWN_BACKSLASH.search, MATH_ELEMENT.findall(article)) if m]
        if shown:
            problems.append(f"{built.relative_to(site)}: a formula shows a backslash: {shown[0]!r}")
        if article.count("<math") != formulas:
            problems.append(f"{built.relative_to(site)}: {article.count('<math')} <math> element(s) "
                            f"for {formulas} formula(s) in {source.name}")
    return problems


# ---------------------------------------------------------------------------------------- tests
def _load_hook():
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip("latex2mathml", reason="latex2mathml is not installed (pip install -e '.[docs]')")
    spec = importlib.util.spec_from_file_location("docs_mathml_hook", REPO / "docs" / "hooks" / "mathml.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return hook


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    for module in ("mkdocs", "material", "mkdocstrings", "latex2mathml"):
        pytest.importorskip(module, reason=f"{module} is not installed (the docs extra: pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("docs") / "site"
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
                         cwd=REPO, capture_output=True, text=True, timeout=600,
                         env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    return out


@pytest.mark.slow
def test_built_site_loads_nothing_from_other_hosts(site):
    assert len(list(site.rglob("*.html"))) > 5
    assert remote_assets(site) == []


@pytest.mark.slow
def test_formulas_are_mathml_in_the_built_site(site):
    assert math_problems(site) == []
    backprop = (site / "backprop" / "index.html").read_text(encoding="utf-8")
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in backprop
    assert "\\[" not in backprop and "\\frac" not in backprop


def test_scanner_finds_remote_assets(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text(
        '<html><head><script src="https://cdn.example.org/x.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/css">'
        '<link rel="canonical" href="https://example.org/a/">'
        '<style>@import url("https://fonts.example.org/roboto.css");</style></head>'
        '<body><a href="https://example.org">a link is not an asset</a>'
        '<img src="../img/local.png"><img srcset="x.png 1x, https://example.org/y.png 2x"></body></html>')
    (tmp_path / "s.css").write_text("p { background: url('https://example.org/bg.png') }")
    found = remote_assets(tmp_path)
    assert len(found) == 5, found
    assert any("x.js" in f for f in found) and any("//fonts.example.org/css" in f for f in found)
    assert not any("canonical" in f or "example.org/a/" in f for f in found)
    assert any(f.startswith("s.css") for f in found)


def test_hook_turns_formulas_into_mathml():
    hook = _load_hook()
    page = type("Page", (), {"file": type("File", (), {"src_path": "demo.md"})()})()
    html = ('<p>inline <span class="arithmatex">\\(a &lt; b_k\\)</span></p>'
            '<div class="arithmatex">\\[ \\frac{\\partial L}{\\partial x} \\]</div><code>\\(kept\\)</code>')
    out = hook.on_page_content(html, page=page)
    assert out.count("<math") == 2 and 'display="block"' in out and 'display="inline"' in out
    assert "<mo>&#x0003C;</mo>" in out and "<mfrac>" in out and "arithmatex" not in out
    assert "<code>\\(kept\\)</code>" in out  # only arithmatex's wrappers are formulas
    text = hook.on_page_content('<span class="arithmatex">\\(\\text{min\\_face\\_size \\& 5\\%}\\)</span>', page=page)
    assert "<mtext>min_face_size&#x000A0;&amp;&#x000A0;5%</mtext>" in text


@pytest.mark.parametrize("tex, reason", [("\\foo x", "would show as '.*foo'"), ("x_", "MissingSuperScript"),
                                         ("\\begin{cases} a", "MissingEnd")])
def test_hook_stops_the_build_on_a_formula_it_cannot_convert(tex, reason):
    hook = _load_hook()
    from mkdocs.exceptions import PluginError

    page = type("Page", (), {"file": type("File", (), {"src_path": "demo.md"})()})()
    with pytest.raises(PluginError, match=f"demo.md: cannot turn the formula .*{reason}"):
        hook.on_page_content(f'<span class="arithmatex">\\({tex}\\)</span>', page=page)


if __name__ == "__main__":
    site_dir = Path(sys.argv[1])
    problems = remote_assets(site_dir) + math_problems(site_dir)
    pages = len(list(site_dir.rglob("*.html")))
    maths = sum(p.read_text(encoding="utf-8").count("<math") for p in site_dir.rglob("*.html"))
    print(f"{pages} pages, {maths} MathML formulas, {len(problems)} problem(s)")
    for problem in problems:
        print("  " + problem)
    sys.exit(1 if problems else 0)
