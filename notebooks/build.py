"""Write one notebook per cookbook chapter from the recipes themselves, without outputs.

    .venv/bin/python notebooks/build.py          # rewrite notebooks/chNN_*.ipynb that changed
    .venv/bin/python notebooks/build.py --check  # exit 1 if a notebook is out of date (writes nothing)
    .venv/bin/python notebooks/build.py --help

Each notebook tells its chapter's story in the recipes' own words (their docstrings) and runs
each recipe's ``main()``, showing what it prints and the plots it draws. Because the notebooks
call the recipes instead of repeating their code, they cannot drift from them; the test suite
checks they are up to date (``--check``) and executes every one.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "notebooks"

SETUP = """\
# Run from the repository root or from notebooks/: make the project importable and keep plots here.
import os, sys
from pathlib import Path

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
os.environ.setdefault("ZIPLINE_ROOT", str(ROOT / ".cache" / "zipline"))
OUT = ROOT / "results" / "notebooks" / {chapter!r}
OUT.mkdir(parents=True, exist_ok=True)

from IPython.display import Image, display

shown: set[Path] = set()


def show_new_plots() -> None:
    \"\"\"Display every PNG the last recipe wrote.\"\"\"
    for png in sorted(OUT.glob("*.png")):
        if png not in shown:
            shown.add(png)
            display(Image(filename=str(png)))
"""


def chapters() -> dict[str, list[str]]:
    import recipes

    out: dict[str, list[str]] = {}
    for name in recipes.INDEX:
        out.setdefault(name.split(".")[1], []).append(name)
    return out


#: chapters whose recipes use the IB client's blocking calls, which need the notebook's running
#: event loop patched (ib_async's util.startLoop, as its documentation says for notebooks)
IB_CHAPTERS = ("ch09_ib_api", "ch10_live_deployment")


def notebook(chapter: str, modules: list[str]) -> nbformat.NotebookNode:
    from algotrade.core.listing import markdown, split_doc

    package = importlib.import_module(f"recipes.{chapter}")
    setup = SETUP.format(chapter=chapter)
    if chapter in IB_CHAPTERS:
        setup += "\nfrom ib_async import util\n\nutil.startLoop()  # let the IB client's blocking calls run inside Jupyter\n"
    heading, intro = split_doc(package.__doc__, chapter)
    cells = [nbformat.v4.new_markdown_cell(markdown(f"# {heading}\n\n{intro}".strip())),
             nbformat.v4.new_code_cell(setup)]
    for name in modules:
        module = importlib.import_module(name)
        title, body = split_doc(module.__doc__, name)
        short = name.rsplit(".", 1)[-1]
        cells.append(nbformat.v4.new_markdown_cell(markdown(f"## {short}: {title}\n\n{body}")))
        cells.append(nbformat.v4.new_code_cell(
            f"from {name} import main\n\nresult = main(out=OUT)\nshow_new_plots()"
        ))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for i, cell in enumerate(nb.cells):  # stable ids: rebuilding gives the same file
        cell["id"] = f"{chapter}-{i:02d}"
    return nb


def parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="notebooks/build.py",
        description="Write notebooks/chNN_*.ipynb, one per cookbook chapter, from the recipes (without "
                    "outputs). Only notebooks whose content changed are rewritten.",
        epilog="Open them with bin/lab; the test suite runs --check and executes every notebook.",
    )


def main(argv: list[str]) -> int:
    cli = parser()
    cli.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 and name the notebooks that are out of date")
    args = cli.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    stale = []
    for chapter, modules in chapters().items():
        path = HERE / f"{chapter}.ipynb"
        text = nbformat.writes(notebook(chapter, modules)) + "\n"
        if path.exists() and path.read_text() == text:
            continue
        if args.check:
            stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run .venv/bin/python notebooks/build.py", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
