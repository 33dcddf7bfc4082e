"""MkDocs hook: the committed figures under ``results/`` become part of the site.

The gallery page (``docs/gallery.md``) links them as ``results/<run>/<figure>.png``; this
hook adds every ``results/**/*.png`` and ``*.svg`` of the repository to the site's files
under the same path, so the figures are not copied into ``docs/``.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

REPO = Path(__file__).resolve().parents[1]


def on_files(files, config):
    for path in sorted((REPO / "results").rglob("*")):
        if path.suffix.lower() in (".png", ".svg") and path.is_file():
            files.append(File(str(path.relative_to(REPO)), str(REPO), config["site_dir"],
                              config["use_directory_urls"]))
    return files
