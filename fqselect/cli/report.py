"""`fqselect report OUT`: rebuild report.html and contact_sheet.png of an --out folder from its manifests."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import UsageError
from .app import PlainUsage, app
from .render import note


@app.command("report", cls=PlainUsage, epilog="Exit codes: 0 the report was written; 2 usage error (no such folder, no manifest in it).")
def report_command(
    out: Path = typer.Argument(..., metavar="OUT", help="An --out folder of earlier runs."),
    sheet_only: bool = typer.Option(False, "--sheet-only", help="Only contact_sheet.png, no report.html."),
):
    """Rebuild report.html and contact_sheet.png of an --out folder from its manifests (after --resume runs too).

    Examples:

      fqselect report picks/     (then open picks/report.html in a browser)

      fqselect report picks/ --sheet-only
    """
    if not out.is_dir():
        raise UsageError(f"{out}: output folder not found")
    from ..output.report import build_report, load_inputs

    if not any(load_inputs(out)):
        raise UsageError(f"{out}: no manifest.json below it: not an fqselect output folder")
    for path in build_report(out, sheet_only):
        note(f"fqselect: wrote {path}")

