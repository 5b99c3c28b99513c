"""What ``bin/lab`` saves: the notebook as committed, with the reader's edits but no run state.

JupyterLab marks a notebook changed as soon as its kernel connects (it fills in the kernel's
display name and ``language_info``) and a save stores every output and execution count. The
notebooks here are built from the recipes and stored without outputs (``notebooks/build.py
--check`` and ``tests/test_notebooks.py`` hold them to it), so ``bin/lab`` gives Jupyter
:func:`pre_save` as ``ContentsManager.pre_save_hook``: before a notebook is written it drops the
outputs and execution counts, the cells' output-view metadata (collapsed, scrolled, timing) and
restores the notebook-level metadata of the file on disk. Saving a notebook one has only run
leaves it byte for byte as committed; an edited cell is saved as edited. To keep a run's outputs,
export it (File > Save and Export Notebook As...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: cell metadata that only describes how outputs were shown or when the cell ran
RUN_STATE_KEYS = ("collapsed", "scrolled", "execution")


def _committed_metadata(path: Path) -> dict[str, Any] | None:
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    metadata = stored.get("metadata") if isinstance(stored, dict) else None
    return metadata if isinstance(metadata, dict) else None


def scrub(notebook: dict[str, Any], on_disk: Path | None = None) -> dict[str, Any]:
    """``notebook`` (a notebook model's content, changed in place and returned) without outputs,
    execution counts and run-state metadata; its metadata becomes that of ``on_disk`` when that
    file holds a notebook, else loses ``language_info`` (which a kernel fills in)."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        metadata = cell.get("metadata", {})
        for key in RUN_STATE_KEYS:
            metadata.pop(key, None)
        jupyter = metadata.get("jupyter")
        if isinstance(jupyter, dict):
            jupyter.pop("outputs_hidden", None)
            if not jupyter:
                del metadata["jupyter"]
    committed = _committed_metadata(on_disk) if on_disk is not None else None
    if committed is not None:
        notebook["metadata"] = committed
    else:
        notebook.get("metadata", {}).pop("language_info", None)
    return notebook


def pre_save(model: dict[str, Any], path: str, contents_manager: Any, **_: Any) -> None:
    """Jupyter's ``pre_save_hook``: scrubs a notebook model before it is written (see the module doc)."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    root = Path(getattr(contents_manager, "root_dir", "."))
    scrub(model["content"], root / path.strip("/"))
