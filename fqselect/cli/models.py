"""`fqselect models`: every model fqselect knows, its version, where its weights come from, and whether it
is usable here."""

from __future__ import annotations

from typing import Optional

import typer

from .app import app
from .render import print_table


@app.command("models", epilog="Exit codes: 0 the list was printed; 2 usage error (an unknown --model-pack).")
def models_command(
    model_pack: Optional[str] = typer.Option(None, "--model-pack", help="Also check the models that need this insightface pack."),
):
    """Every model fqselect knows (detectors, recognisers, quality scorers): version, where its weights
    come from, and whether it is usable here.

    Examples:

      fqselect models

      fqselect models --model-pack buffalo_l     (also the models that need that insightface pack)
    """
    from ..zoo.registry import list_models

    rows = []
    for model in list_models():
        problem = model.usable(model_pack)
        points = ", ".join(f"{k} {v}" for k, v in model.info.items() if k in ("match", "link")) if model.kind == "recognizer" else ""
        rows.append([model.kind, model.name, model.version, "yes" if problem is None else f"no: {problem}", model.source, points])
    print_table(["kind", "name", "version", "usable", "weights", "operating points"], rows, wrap=("usable",))

