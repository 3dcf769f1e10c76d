"""The hand-in written out: DIR/report.ipynb (nbformat 4, markdown cells only, nothing to
execute) and DIR/report.md (the same cells, one after the other)."""

from __future__ import annotations

from pathlib import Path


def notebook(cells: list[str]):
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    book = new_notebook(cells=[new_markdown_cell(text) for text in cells])
    book.metadata["language_info"] = {"name": "markdown"}
    nbformat.validate(book)
    return book


def write_handin(out_dir: Path, cells: list[str]) -> tuple[Path, Path]:
    """Both files, the notebook validated before it is written."""
    import nbformat

    out_dir.mkdir(parents=True, exist_ok=True)
    ipynb, md = out_dir / "report.ipynb", out_dir / "report.md"
    book = notebook(cells)
    tmp = ipynb.with_suffix(".ipynb.tmp")
    nbformat.write(book, str(tmp))
    tmp.replace(ipynb)
    md.write_text("\n\n".join(cell.rstrip() for cell in cells) + "\n")
    return ipynb, md
