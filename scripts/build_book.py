"""Render the course notebooks (with their stored outputs) to a static HTML book, or to slides.

``python scripts/build_book.py`` writes ``build/NN_topic.html`` for every notebook (nbconvert's
``lab`` template; figures are embedded, so each page is one file) and ``build/index.html``, the
course sequence: number, title (the notebook's first markdown heading), one-line description (the
first sentence after the heading), expected run time, and links to the page and, when built, the
slides. The notebooks are not executed here: run ``python scripts/run_notebooks.py --inplace`` first
(``make book`` does both).

``python scripts/build_book.py --slides`` writes reveal.js slides ``build/slides/NN_topic.slides.html``
(what ``jupyter nbconvert --to slides`` makes, cells placed by their ``slideshow`` metadata) and
refreshes the index. reveal.js is loaded from ``$REVEAL_PREFIX`` (default: a CDN). For a classroom
without internet, fetch reveal.js once on a machine with access to the npm registry and copy it next
to the slides::

    npm pack reveal.js@4.6.1 && tar xzf reveal.js-4.6.1.tgz      # unpacks into ./package
    python scripts/build_book.py --slides --local-reveal package  # -> build/slides/reveal.js/

Then ``build/slides/`` works opened from disk or served by ``python -m http.server``, no network
needed (math is typeset only when MathJax's CDN is reachable; offline it shows the TeX source).
Alternatively set ``REVEAL_PREFIX`` to any URL or relative path that holds a reveal.js 4 copy.
No pip package in the course environment ships the reveal.js distribution files: jupyterlab-rise
bundles reveal.js inside its JupyterLab extension, which is why slides *inside JupyterLab*
(``/rise/NN_topic.ipynb``, the RISE button) work fully offline.

Widgets: papermill stores the widget state in each notebook, and nbconvert embeds it in the page;
the page renders it with ``@jupyter-widgets/html-manager`` from a CDN (nbconvert has no offline
copy), so offline the widget views stay empty while every other output is shown.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
DEFAULT_REVEAL_PREFIX = "https://unpkg.com/reveal.js@4.6.1"
COURSE_TITLE = "How neural networks are optimized"
# What nbconvert's pages load too (offline the TeX source is shown instead).
MATHJAX_URL = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX-AMS_CHTML"

# Loads reveal.js through require.js when it is there (online), otherwise with plain script tags, so
# that the same page works from a CDN and fully offline from a local copy. Also: no jQuery needed for
# scrolling long slides, and math is re-typeset only when MathJax loaded.
SLIDES_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
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
      if (window.MathJax && MathJax.Hub && MathJax.Hub.getAllJax(Reveal.getCurrentSlide())) {
        MathJax.Hub.Rerender(Reveal.getCurrentSlide());
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


def render_pages(notebooks: list[Path], out: Path) -> list[Path]:
    """Write ``out/<stem>.html`` for every notebook with nbconvert's lab template."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", embed_images=True)
    pages = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        title = describe(nb)["title"] or path.stem
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
        page = out / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
    return pages


def render_slides(notebooks: list[Path], out: Path, prefix: str) -> list[Path]:
    """Write ``out/<stem>.slides.html`` (reveal.js; cells placed by their slideshow metadata)."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(
        extra_loaders=[DictLoader({"course_slides.html.j2": SLIDES_TEMPLATE})],
        template_file="course_slides.html.j2",
        reveal_url_prefix=prefix,
        reveal_scroll=True,
        reveal_number="c/t",
    )
    out.mkdir(parents=True, exist_ok=True)
    slides = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        title = describe(nb)["title"] or path.stem
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
        target = out / f"{path.stem}.slides.html"
        target.write_text(body, encoding="utf-8")
        slides.append(target)
    return slides


def copy_reveal(source: Path, target: Path) -> None:
    """Copy a reveal.js 4 package's ``dist/`` and ``plugin/`` (and licence) to ``target``."""
    needed = ["dist/reveal.js", "dist/reveal.css", "plugin/notes/notes.js"]
    missing = [n for n in needed if not (source / n).is_file()]
    if missing:
        raise ValueError(
            f"--local-reveal must be an unpacked reveal.js 4 package (npm pack reveal.js@4.6.1), "
            f"got {source} without {', '.join(missing)}"
        )
    if target.exists():
        shutil.rmtree(target)
    for part in ("dist", "plugin"):
        shutil.copytree(source / part, target / part, ignore=shutil.ignore_patterns("*.map"))
    if (source / "LICENSE").is_file():
        shutil.copy(source / "LICENSE", target / "LICENSE")


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
<script>window.MathJax = {{ tex2jax: {{ inlineMath: [["$", "$"]], processEscapes: true }} }};</script>
<script async src="{MATHJAX_URL}"></script>
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slides", action="store_true", help="build reveal.js slides instead")
    parser.add_argument(
        "--local-reveal",
        type=Path,
        metavar="DIR",
        help="unpacked reveal.js package to copy into build/slides/reveal.js (offline slides)",
    )
    parser.add_argument("--out", type=Path, default=BUILD, help="output folder (default build/)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = parser.parse_args(argv)
    if args.local_reveal and not args.slides:
        parser.error("--local-reveal only applies with --slides")
    notebooks = [p.resolve() for p in args.notebooks] or course_notebooks()
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if args.slides:
        prefix = os.environ.get("REVEAL_PREFIX") or DEFAULT_REVEAL_PREFIX
        if args.local_reveal:
            try:
                copy_reveal(args.local_reveal, out / "slides" / "reveal.js")
            except ValueError as exc:
                parser.error(str(exc))
            prefix = "reveal.js"
        made = render_slides(notebooks, out / "slides", prefix)
        print(f"reveal.js from: {prefix}")
    else:
        made = render_pages(notebooks, out)
    index = write_index(notebooks, out)
    for path in made:
        print(f"wrote {path.relative_to(out.parent) if out.parent in path.parents else path}")
    print(f"wrote {index.name}; {len(made)} file(s) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
