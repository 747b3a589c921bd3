"""Render the course notebooks (with their stored outputs) to a static HTML book, or to slides.

``python scripts/build_book.py`` writes ``build/NN_topic.html`` for every notebook (nbconvert's
``lab`` template; figures are embedded) and ``build/index.html``, the course sequence: number, title
(the notebook's first markdown heading), one-line description (the first sentence after the
heading), expected run time, and links to the page and, when built, the slides. The notebooks are not
executed here: run ``python scripts/run_notebooks.py --inplace`` first (``make book`` does both).

``python scripts/build_book.py --slides`` writes reveal.js slides ``build/slides/NN_topic.slides.html``
(what ``jupyter nbconvert --to slides`` makes, cells placed by their ``slideshow`` metadata) and
refreshes the index.

Offline: nothing is loaded from the network. Every page's scripts and style sheets are relative
paths into ``build/_static/``, copied from pinned packages of the course environment:

* ``_static/mathjax/``: MathJax 2.7 from jupyter-server-mathjax (its one combined configuration,
  ``TeX-AMS-MML_HTMLorMML-full``, the HTML-CSS output and its STIX-Web fonts; 2.2 MB). The
  package ships no CommonHTML output and no TeX fonts, so the pages use HTML-CSS with STIX-Web.
  Left out: the SVG output, the localisations (the menu stays in English) and the accessibility
  explorer's speech rules (``a11y/mathmaps``, ``mathjax-sre.js``); the hidden MathML that screen
  readers read (AssistiveMML) is kept.
* ``_static/reveal.js/``: reveal.js 5.2.0 from sphinx-revealjs (``dist/`` with its themes and their
  fonts, without source maps, and the speaker-notes plugin; 2.3 MB), for the slides only; the theme
  is ``white``, whose fonts ship with it (``simple``, nbconvert's default, loads Google fonts).
  ``--local-reveal DIR`` copies another unpacked reveal.js (4 or 5) instead; ``REVEAL_PREFIX`` (a
  URL or a path relative to ``build/slides/``) loads it from elsewhere and copies nothing.
* ``_static/plotly.min.js``: plotly.js from the plotly package, copied (4.8 MB) and loaded only when
  a page has a Plotly figure: every output of type ``application/vnd.plotly.v1+json`` (a figure, its
  slider steps and animation frames) becomes a ``<div>`` drawn by ``Plotly.newPlot`` (and
  ``Plotly.addFrames``), so its sliders work in the static page.

Neither require.js nor jQuery is loaded: nbconvert's pages need require.js only for the widget
renderer (``@jupyter-widgets/html-manager``, which no package of the environment ships) and the
slides' template needs jQuery only for long slides, done here without it. A widget view therefore
needs a kernel: the book shows a note in its place (run the notebook in JupyterLab, ``make lab``) and
leaves the stored widget state out of the page. Mermaid diagrams are not rendered (no notebook has
one). After writing each page the build checks that every ``<script src>``, ``<link href>`` and
``<img src>`` is a relative path to a file inside the output folder, or an embedded ``data:`` URL.
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import os
import re
import shutil
import sys
import time
from html.parser import HTMLParser
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
STATIC = "_static"  # next to index.html: build/_static/
COURSE_TITLE = "How neural networks are optimized"
# reveal.js's default theme, whose fonts ship with it (nbconvert's default, "simple", and seven other
# themes import their fonts from fonts.googleapis.com).
REVEAL_THEME = "white"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
MATHJAX_CONFIG_NAME = "TeX-AMS-MML_HTMLorMML-full,Safe"
# What MathJax loads on these pages, relative to the package's static/ folder (measured: no other
# file is requested by the book's pages; TeX extensions are copied whole because a macro such as
# \boldsymbol or \cancel loads its extension on first use).
MATHJAX_FILES = ("MathJax.js", "LICENSE", "config/TeX-AMS-MML_HTMLorMML-full.js", "config/Safe.js")
MATHJAX_DIRS = (
    "extensions",
    "jax/input/TeX",
    "jax/element/mml",
    "jax/output/HTML-CSS",
    "fonts/HTML-CSS/STIX-Web/woff",
)
MATHJAX_SKIP = ("mathmaps", "mathjax-sre.js", "*.mp3", "*.ogg")
# nbconvert's configuration with the fonts this MathJax copy has (STIX-Web only), without the fast
# preview and automatic line breaks: each doubles the typesetting time of a long page (measured on
# notebook 01's page in headless Chromium: 57 s with both, 38 s and 46 s with one, 24 s with none,
# on a loaded 2-core machine).
MATHJAX_SETTINGS = {
    "TeX": {"equationNumbers": {"autoNumber": "AMS", "useLabelIds": True}},
    "tex2jax": {
        "inlineMath": [["$", "$"], ["\\(", "\\)"]],
        "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
        "processEscapes": True,
        "processEnvironments": True,
    },
    "displayAlign": "center",
    "messageStyle": "none",
    "fast-preview": {"disabled": True},
    "HTML-CSS": {
        "availableFonts": [],
        "preferredFont": None,
        "webFont": "STIX-Web",
        "imageFont": None,
    },
}
# MathJax's NativeMML styles give the hidden MathML that screen readers read (AssistiveMML) the
# MathJax TeX web fonts, which this copy does not have: a \mathbb would request a missing file.
ASSISTIVE_MATHML_STYLE = (
    "<style>.MJX_Assistive_MathML [mathvariant] { font-family: inherit !important; }</style>"
)
WIDGET_NOTE = (
    '<div class="course-widget-note" style="padding:.5em 1em;border-left:4px solid #1e88e5;'
    'background:#f3f7fb">Interactive widget: it needs a running Python kernel. Open this notebook '
    "in JupyterLab (<code>make lab</code>) to move its controls.</div>"
)

# The head of every book page and deck: MathJax (and plotly.js where needed), no require.js, no
# jQuery, no widget renderer, no mermaid (see the module docstring).
OFFLINE_BLOCKS = r"""
{%- block html_head_js -%}
{{ resources.course_head }}
{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
PAGE_TEMPLATE = "{%- extends 'index.html.j2' -%}\n" + OFFLINE_BLOCKS

# Loads reveal.js through require.js when a page has it, otherwise with plain script tags (this
# build's pages never load require.js). No jQuery needed for scrolling long slides; maths is
# re-typeset and Plotly figures resized when a slide becomes the current one.
SLIDES_TEMPLATE = (
    "{%- extends 'index.html.j2' -%}\n"
    + OFFLINE_BLOCKS
    + r"""
{% block footer_js %}
<script>
(function () {
  var prefix = "{{ resources.reveal.url_prefix }}";
  function start(Reveal, RevealNotes) {
    Reveal.initialize({
      controls: true, progress: true, history: true,
      transition: "{{ resources.reveal.transition }}",
      slideNumber: "{{ resources.reveal.number }}",
      plugins: RevealNotes ? [RevealNotes] : [],
      width: {{ resources.reveal.width or 960 }}, height: {{ resources.reveal.height or 700 }}
    });
    Reveal.on("slidechanged", function () {
      var slide = Reveal.getCurrentSlide();
      if (window.MathJax && MathJax.Hub && MathJax.Hub.getAllJax(slide).length) {
        MathJax.Hub.Queue(["Rerender", MathJax.Hub, slide]);
      }
      if (window.Plotly) {
        slide.querySelectorAll(".js-plotly-plot").forEach(function (d) { Plotly.Plots.resize(d); });
      }
      {% if resources.reveal.scroll %}
      var limit = document.querySelector(".reveal").offsetHeight * 0.95;
      document.querySelectorAll("section.present section").forEach(function (s) {
        if (s.offsetHeight > limit) { s.style.height = "calc(95vh)"; s.style.overflowY = "scroll"; }
      });
      {% endif %}
    });
  }
  function loadScript(src, done) {
    var s = document.createElement("script");
    s.src = src; s.onload = done;
    s.onerror = function () { console.error("could not load " + src); done(); };
    document.head.appendChild(s);
  }
  if (window.require && window.define && window.define.amd) {
    require({waitSeconds: 15}, [prefix + "/dist/reveal.js", prefix + "/plugin/notes/notes.js"], start);
  } else {
    loadScript(prefix + "/dist/reveal.js", function () {
      loadScript(prefix + "/plugin/notes/notes.js", function () {
        start(window.Reveal, window.RevealNotes);
      });
    });
  }
})();
</script>
{% endblock footer_js %}
"""
)


def course_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """Notebooks in course order: 00, 01, ..., then A1, A2 and P (what sorting the names gives)."""
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def _inline_markdown(text: str) -> str:
    """Render one line of markdown to inline HTML; ``$...$`` math is kept verbatim for MathJax."""
    import mistune

    maths = re.findall(r"\$[^$]+\$", text)
    for i, math in enumerate(maths):
        text = text.replace(math, f"MATHPLACEHOLDER{i}X", 1)
    rendered = re.sub(r"^<p>(.*)</p>$", r"\1", mistune.html(text).strip(), flags=re.S)
    for i, math in enumerate(maths):
        rendered = rendered.replace(f"MATHPLACEHOLDER{i}X", html.escape(math), 1)
    return rendered


def describe(nb) -> dict:
    """Title, one-line description and expected run time of a notebook, from its markdown.

    The title is the first ``# `` heading; the description is the first sentence of the first
    paragraph after it; the run time is the rest of the sentence "Expected run time: ..." (wrapped lines
    joined).
    """
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    title, description, run_time = None, "", ""
    for source in markdown:
        lines = source.splitlines()
        for i, line in enumerate(lines):
            if title is None and line.startswith("# "):
                title = line[2:].strip()
                paragraph = []
                for rest in lines[i + 1 :]:
                    if not rest.strip():
                        if paragraph:
                            break
                        continue
                    if rest.startswith("#") or rest.startswith("Expected run time"):
                        break
                    paragraph.append(rest.strip())
                text = " ".join(paragraph)
                match = re.match(r"(.+?[.!?])(\s|$)", text)
                description = match.group(1) if match else text
        # The sentence may be wrapped over several lines: up to its full stop or the paragraph's end.
        found = re.search(
            r"Expected run time:?\s*(.+?)(?:\.(?:\s|$)|\n\s*\n|$)", source, flags=re.DOTALL
        )
        if found and not run_time:
            run_time = " ".join(found.group(1).split())
    return {"title": title, "description": description, "run_time": run_time}


def package_folder(package: str, *parts: str) -> Path:
    """A folder inside an installed package (found without importing it)."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package} is not installed (make setup installs it)")
    folder = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not folder.exists():
        raise FileNotFoundError(f"{package} has no {'/'.join(parts)} (expected at {folder})")
    return folder


def folder_size(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def copy_mathjax(target: Path, source: Path | None = None) -> int:
    """Copy what the pages need of MathJax 2.7 (:data:`MATHJAX_FILES`, :data:`MATHJAX_DIRS`).

    ``source`` is jupyter-server-mathjax's ``static/`` folder by default. Returns the bytes copied.
    """
    source = source or package_folder("jupyter_server_mathjax", "static")
    if target.exists():
        shutil.rmtree(target)
    for name in MATHJAX_FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / name, target / name)
    for name in MATHJAX_DIRS:
        shutil.copytree(source / name, target / name, ignore=shutil.ignore_patterns(*MATHJAX_SKIP))
    return folder_size(target)


def check_reveal(source: Path) -> None:
    """Raise ValueError unless ``source`` is an unpacked reveal.js 4 or 5 package."""
    needed = ["dist/reveal.js", "dist/reveal.css", "plugin/notes/notes.js"]
    missing = [n for n in needed if not (source / n).is_file()]
    if missing:
        raise ValueError(
            f"--local-reveal must be an unpacked reveal.js 4 or 5 package (npm pack reveal.js), "
            f"got {source} without {', '.join(missing)}"
        )


def copy_reveal(source: Path | None, target: Path) -> int:
    """Copy an unpacked reveal.js (4 or 5) ``dist/`` and its notes plugin to ``target``.

    ``source`` is sphinx-revealjs's reveal.js 5.2.0 by default. Source maps and the ES-module
    builds are left out. Returns the bytes copied.
    """
    source = source or package_folder("sphinx_revealjs", "_static", "revealjs")
    check_reveal(source)
    if target.exists():
        shutil.rmtree(target)
    skip = shutil.ignore_patterns("*.map", "*.esm.js")
    shutil.copytree(source / "dist", target / "dist", ignore=skip)
    (target / "plugin" / "notes").mkdir(parents=True)
    shutil.copy(source / "plugin/notes/notes.js", target / "plugin/notes/notes.js")
    if (source / "LICENSE").is_file():
        shutil.copy(source / "LICENSE", target / "LICENSE")
    return folder_size(target)


def copy_plotly(target: Path) -> int:
    """Copy plotly.js (the plotly package's ``plotly.min.js``) to ``target`` unless it is there."""
    source = package_folder("plotly", "package_data") / "plotly.min.js"
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    return target.stat().st_size


def offline_head(static: str, plotly: bool) -> str:
    """The ``<script>`` tags of a page's head: MathJax and, when ``plotly``, plotly.js.

    ``static`` is the relative path from the page to ``_static`` (``_static`` or ``../_static``).
    """
    settings = json.dumps(MATHJAX_SETTINGS)
    tags = [
        ASSISTIVE_MATHML_STYLE,
        f"<script>window.MathJax = {settings};</script>",
        f'<script src="{static}/mathjax/MathJax.js?config={MATHJAX_CONFIG_NAME}"></script>',
    ]
    if plotly:
        tags.append(f'<script src="{static}/plotly.min.js"></script>')
    return "\n".join(tags)


def plotly_html(figure: dict, div_id: str) -> str:
    """A ``<div>`` and the script that draws ``figure`` (a plotly mime bundle) in it.

    ``Plotly.newPlot(div, data, layout, config)``, then ``Plotly.addFrames`` when the figure has
    animation frames (what slider steps with ``method="animate"`` refer to). The JSON is embedded
    with ``</`` escaped, so no string in the figure can end the script.
    """
    if not isinstance(figure, dict) or not isinstance(figure.get("data", []), list):
        raise ValueError(f"a plotly figure must be a dict with a list 'data', got {figure!r:.80}")
    payload = json.dumps(figure, separators=(",", ":")).replace("</", "<\\/")
    return f"""<div id="{div_id}" class="course-plotly"></div>
<script>
(function () {{
  var fig = {payload};
  var div = document.getElementById("{div_id}");
  if (!window.Plotly) {{ div.textContent = "plotly.js did not load: this figure needs _static/plotly.min.js"; return; }}
  var config = Object.assign({{responsive: true}}, fig.config || {{}});
  Plotly.newPlot(div, fig.data || [], fig.layout || {{}}, config).then(function () {{
    if (fig.frames && fig.frames.length) {{ return Plotly.addFrames(div, fig.frames); }}
  }});
}})();
</script>"""


def prepare_for_book(nb, stem: str):
    """A copy of ``nb`` ready for a static page, and whether it has Plotly figures.

    Plotly outputs become :func:`plotly_html` (every other representation of that output is
    dropped); widget views become :data:`WIDGET_NOTE`; the stored widget state is left out.
    """
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    figures = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                figures += 1
                output["data"] = {
                    "text/html": plotly_html(data[PLOTLY_MIME], f"{stem}-plotly-{figures}")
                }
            elif WIDGET_VIEW_MIME in data:
                output["data"] = {"text/html": WIDGET_NOTE}
    return nb, figures > 0


class _AssetParser(HTMLParser):
    """Collects the URLs a browser loads by itself: script src, link href, img and source src."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        names = {"script": "src", "link": "href", "img": "src", "source": "src", "iframe": "src"}
        if tag in names:
            value = dict(attrs).get(names[tag])
            if value:
                self.urls.append((tag, value))


def nonlocal_assets(page: Path, root: Path) -> list[str]:
    """Every asset of ``page`` that is not a ``data:`` URL or a relative path to a file in ``root``.

    Empty when the page works offline. Each entry names the tag, the URL and what is wrong.
    """
    parser = _AssetParser()
    parser.feed(page.read_text(encoding="utf-8"))
    problems = []
    for tag, url in parser.urls:
        if url.startswith("data:"):
            continue
        path = url.split("?", 1)[0].split("#", 1)[0]
        if re.match(r"^[a-z][a-z0-9+.-]*:|^/", path, flags=re.I):
            problems.append(f"<{tag}> {url}: not a relative path")
            continue
        target = (page.parent / path).resolve()
        if root.resolve() not in target.parents or not target.is_file():
            problems.append(f"<{tag}> {url}: no such file inside {root}")
    return problems


def export(exporter, path: Path, static: str, target: Path) -> Path:
    """Write one notebook with ``exporter`` to ``target`` (offline head, plotly figures drawn)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    title = describe(nb)["title"] or path.stem
    nb, plotly = prepare_for_book(nb, path.stem)
    resources = {"metadata": {"name": title}, "course_head": offline_head(static, plotly)}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    target.write_text(body, encoding="utf-8")
    if plotly:
        copy_plotly(target.parent / static / "plotly.min.js")
    return target


def render_pages(notebooks: list[Path], out: Path) -> list[Path]:
    """Write ``out/<stem>.html`` for every notebook with nbconvert's lab template, offline."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"course_page.html.j2": PAGE_TEMPLATE})],
        template_file="course_page.html.j2",
        embed_images=True,
    )
    return [export(exporter, path, STATIC, out / f"{path.stem}.html") for path in notebooks]


def render_slides(notebooks: list[Path], out: Path, prefix: str) -> list[Path]:
    """Write ``out/<stem>.slides.html`` (reveal.js; cells placed by their slideshow metadata).

    ``out`` is the ``slides/`` folder next to ``_static/``; ``prefix`` is where reveal.js is.
    """
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(
        extra_loaders=[DictLoader({"course_slides.html.j2": SLIDES_TEMPLATE})],
        template_file="course_slides.html.j2",
        reveal_url_prefix=prefix,
        reveal_scroll=True,
        reveal_number="c/t",
        reveal_theme=REVEAL_THEME,
    )
    out.mkdir(parents=True, exist_ok=True)
    static = f"../{STATIC}"
    return [export(exporter, p, static, out / f"{p.stem}.slides.html") for p in notebooks]


def write_index(notebooks: list[Path], out: Path) -> Path:
    """``out/index.html``: the course sequence with titles, descriptions and links."""
    import nbformat

    rows = []
    for path in notebooks:
        info = describe(nbformat.read(path, as_version=4))
        number = path.stem.split("_", 1)[0]
        title = html.escape(info["title"] or path.stem)
        links = [f'<a href="{path.stem}.html">read</a>']
        if (out / "slides" / f"{path.stem}.slides.html").is_file():
            links.append(f'<a href="slides/{path.stem}.slides.html">slides</a>')
        rows.append(
            "<tr>"
            f'<td class="num">{html.escape(number)}</td>'
            f'<td><a href="{path.stem}.html">{title}</a>'
            f"<div class=desc>{_inline_markdown(info['description'])}</div></td>"
            f"<td>{_inline_markdown(info['run_time']) if info['run_time'] else ''}</td>"
            f"<td>{' · '.join(links)}</td>"
            "</tr>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{COURSE_TITLE}</title>
{offline_head(STATIC, plotly=False)}
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; vertical-align: top; padding: .5rem; border-bottom: 1px solid #ddd; }}
td.num {{ font-weight: bold; white-space: nowrap; }}
.desc {{ color: #555; font-size: .95em; }}
code {{ background: #f4f4f4; padding: 0 .2em; }}
</style>
</head>
<body>
<h1>{COURSE_TITLE}</h1>
<p>The course notebooks in order, rendered with the outputs of their last full run.
Open them in JupyterLab (<code>make lab</code>) to run the code and move the sliders.</p>
<table>
<thead><tr><th>#</th><th>Notebook</th><th>Expected run time</th><th></th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</body>
</html>
"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; notebooks resolved (default: every course notebook) and checked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slides", action="store_true", help="build reveal.js slides instead")
    parser.add_argument(
        "--local-reveal",
        type=Path,
        metavar="DIR",
        help="another unpacked reveal.js (4 or 5) to copy to _static/reveal.js "
        "(default: sphinx-revealjs's reveal.js 5.2.0)",
    )
    parser.add_argument("--out", type=Path, default=BUILD, help="output folder (default build/)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = parser.parse_args(argv)
    if args.local_reveal and not args.slides:
        parser.error("--local-reveal only applies with --slides")
    args.notebooks = [p.resolve() for p in args.notebooks] or course_notebooks()
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if args.local_reveal:
        try:
            check_reveal(args.local_reveal)
        except ValueError as exc:
            parser.error(str(exc))
    return args


def build_slides(notebooks: list[Path], out: Path, local_reveal: Path | None) -> list[Path]:
    """The decks in ``out/slides``; reveal.js copied to ``out/_static/reveal.js`` first.

    ``REVEAL_PREFIX`` (environment) loads reveal.js from there instead and copies nothing.
    """
    prefix = os.environ.get("REVEAL_PREFIX")
    if not prefix:
        size = copy_reveal(local_reveal, out / STATIC / "reveal.js")
        prefix = f"../{STATIC}/reveal.js"
        print(f"reveal.js: {size / 1e6:.1f} MB copied to {STATIC}/reveal.js")
    print(f"reveal.js from: {prefix}")
    return render_slides(notebooks, out / "slides", prefix)


def check_offline(pages: list[Path], out: Path) -> int:
    """Print every page asset that is not inside ``out``; 1 if there is one (0 with REVEAL_PREFIX)."""
    problems = [f"{page.name}: {p}" for page in pages for p in nonlocal_assets(page, out)]
    for problem in problems:
        print(f"not offline: {problem}", file=sys.stderr)
    if problems and os.environ.get("REVEAL_PREFIX"):
        print("(REVEAL_PREFIX is set: the slides load reveal.js from there)", file=sys.stderr)
        return 0
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    size = copy_mathjax(out / STATIC / "mathjax")
    print(f"MathJax: {size / 1e6:.1f} MB copied to {STATIC}/mathjax")
    if args.slides:
        made = build_slides(args.notebooks, out, args.local_reveal)
    else:
        made = render_pages(args.notebooks, out)
    index = write_index(args.notebooks, out)
    for path in made:
        print(f"wrote {path.relative_to(out.parent) if out.parent in path.parents else path}")
    print(f"wrote {index.name}; {len(made)} file(s) in {time.perf_counter() - start:.1f} s")
    return check_offline([*made, index], out)


if __name__ == "__main__":
    sys.exit(main())
