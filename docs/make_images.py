"""The pictures of the README's "formats" section, made from the seed worked example:

- docs/solve-latex.png: the first page of `convgrad solve --format latex`, compiled with
  pdflatex and turned into a picture by pdftoppm (Debian: poppler-utils);
- docs/solve-html.png: `convgrad solve --format html` in headless Chromium, the pointer on
  dL/dx23 (its entries of dL/dY and W lit up, its term written out below), through
  docs/screenshot.js and puppeteer-core (npm install --prefix .ci/js).

Run from the repository: python docs/make_images.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PROBLEM = ROOT / "problems" / "seed_worked_example.yaml"


def convgrad(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "convgrad", *args], check=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        convgrad("solve", str(PROBLEM), "-o", str(work / "solve.tex"))
        subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "solve.tex"],
                       cwd=work, check=True, capture_output=True)
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile",
                        str(work / "solve.pdf"), str(work / "page")], check=True)
        shutil.copy(work / "page.png", DOCS / "solve-latex.png")

        convgrad("solve", str(PROBLEM), "-o", str(work / "solve.html"))
        env = {**os.environ, "CONVGRAD_JS": str(ROOT / ".ci" / "js")}
        subprocess.run(["node", str(DOCS / "screenshot.js"), str(work / "solve.html"),
                        "dX[2,3]", str(DOCS / "solve-html.png")], check=True, env=env)
    print("wrote docs/solve-latex.png and docs/solve-html.png")


if __name__ == "__main__":
    main()
