"""The report people look at: `report.html` (with the contact sheet) in an --out folder, built from its
manifests alone, so `fqselect report OUT` rebuilds it after any run, --resume runs too.

The page is one file that opens from disk with no server: images are linked relatively (they sit beside
it), styles are inline. An index lists every input with its status (failures of the last run with
their reasons, from `failures.jsonl`); each input then shows its picks as aligned crops and as frames
with the face's box, rank, quality, time (or file name, for folders), person and identity; a video gets
a quality-over-time strip (the best face of each frame analysed whole, picks marked), and --per-person
runs one row per person.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from .manifest import MANIFEST
from .sheet import input_file, write_sheet

FAILURES = "failures.jsonl"
REPORT = "report.html"


def write_failures(out: Path, results) -> None:
    """The run's failed and face-less inputs with their reasons (`failures.jsonl`, for the report's index
    and for whoever retries them); removed when the run had none, so it never lists an older run's."""
    lines = [json.dumps({"input": r.input, "status": r.status, "error": r.error}) for r in results
             if r.status in ("failed", "no_face")]
    if lines:
        (out / FAILURES).write_text("".join(line + "\n" for line in lines))
    else:
        (out / FAILURES).unlink(missing_ok=True)


def load_inputs(out: Path) -> tuple[list[dict], list[dict]]:
    """Every input's manifest (with `folder`, its output folder's name), and the last run's failures."""
    inputs = []
    for manifest in sorted(out.glob(f"*/{MANIFEST}")):
        try:
            entry = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue  # not ours, or damaged: the report shows what it can
        entry["folder"] = manifest.parent.name
        inputs.append(entry)
    failures = []
    if (out / FAILURES).is_file():
        failures = [json.loads(line) for line in (out / FAILURES).read_text().splitlines() if line.strip()]
    return inputs, failures


def build_report(out: Path, sheet_only: bool = False) -> list[Path]:
    """Write the contact sheet and (unless `sheet_only`) the page into `out`; the files written."""
    out = Path(out)
    inputs, failures = load_inputs(out)
    written = [write_sheet(out, inputs)]
    if not sheet_only:
        (out / REPORT).write_text(render_page(inputs, failures), encoding="utf-8")
        written.insert(0, out / REPORT)
    return written


# ------------------------------------------------------------------------------------------- the page
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px}h2{font-size:17px;margin:28px 0 6px;word-break:break-all}
table.index{border-collapse:collapse}table.index td,table.index th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
.failed{color:#b00}.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start;margin:6px 0}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px;font-size:12px}
.card img.crop{width:112px;height:112px;display:block}
.frame{position:relative;display:inline-block;width:240px}.frame img{width:240px;display:block}
.box{position:absolute;border:2px solid #2a2;box-sizing:border-box}
.person{font-weight:600;margin-top:10px}.meta{color:#666;font-size:12px}
svg.strip{background:#fff;border:1px solid #ddd;display:block;margin:6px 0}
"""

COUNT_IMAGES = """<script>
window.addEventListener('load', () => {
  const shown = [...document.images].filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesShown = shown;
  document.body.dataset.imagesTotal = document.images.length;
});
</script>"""


def render_page(inputs: list[dict], failures: list[dict]) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>fqselect report</title><style>{STYLE}</style></head><body>",
             f"<h1>fqselect report: {len(inputs)} input(s) with picks, {len(failures)} without</h1>", _index(inputs, failures)]
    parts += [_section(number, entry) for number, entry in enumerate(inputs)]
    parts.append(COUNT_IMAGES + "</body></html>")
    return "\n".join(parts)


def _index(inputs: list[dict], failures: list[dict]) -> str:
    rows = ["<table class='index'><tr><th>input</th><th>kind</th><th>picks</th><th>best quality</th><th>status</th></tr>"]
    for number, entry in enumerate(inputs):
        first = [f for f in entry["faces"] if f.get("rank") == 1]
        best = first[0]["quality"] if first else None  # the best pick's (the one ranked first)
        status = "; ".join(entry.get("warnings", [])) or "ok"
        rows.append(f"<tr><td><a href='#input{number}'>{_e(entry['input'])}</a></td><td>{_e(entry.get('kind', ''))}</td>"
                    f"<td>{len(entry['faces'])}</td><td>{'' if best is None else f'{best:.3f}'}</td><td>{_e(status)}</td></tr>")
    for failure in failures:
        label = "no face" if failure["status"] == "no_face" else "failed"
        rows.append(f"<tr class='failed'><td>{_e(failure['input'])}</td><td></td><td>0</td><td></td>"
                    f"<td>{label}: {_e(failure.get('error') or '')}</td></tr>")
    return "\n".join(rows) + "</table>"


def _section(number: int, entry: dict) -> str:
    parts = [f"<h2 id='input{number}'>{_e(entry['input'])}</h2>",
             f"<div class='meta'>{_e(entry.get('kind', ''))}: {entry.get('frames_decoded', 0)} frames decoded, "
             f"{entry.get('frames_analysed', 0)} analysed, {entry.get('faces_seen', 0)} faces seen</div>"]
    if entry.get("timeline"):
        parts.append(_strip(entry["timeline"], entry["faces"]))
    persons = entry.get("persons")
    if persons:
        for person in persons:
            faces = [f for f in entry["faces"] if f.get("person") == person["id"]]
            name = f" — {_e(person['identity'])} ({person['similarity']:.2f})" if person.get("identity") else ""
            parts.append(f"<div class='person'>person {person['id']}{name}: {person['faces_seen']} faces, "
                         f"{person['first_time']:.1f}–{person['last_time']:.1f} s</div>")
            parts.append(_cards(entry, faces))
    else:
        parts.append(_cards(entry, entry["faces"]))
    return "\n".join(parts)


def _cards(entry: dict, faces: list[dict]) -> str:
    cards = []
    for face in faces:
        where = (Path(face["source"]).name if entry.get("kind") == "folder"
                 else f"{face['time']:.2f} s, frame {face['frame']}" if entry.get("kind") == "video" else "")
        crop, frame = input_file(entry, face.get("crop_file")), input_file(entry, face.get("frame_file"))
        box = ""
        if face.get("frame_size"):
            width, height = face["frame_size"]
            x1, y1, x2, y2 = face["bbox"]
            box = (f"<div class='box' style='left:{100 * x1 / width:.2f}%;top:{100 * y1 / height:.2f}%;"
                   f"width:{100 * (x2 - x1) / width:.2f}%;height:{100 * (y2 - y1) / height:.2f}%'></div>")
        cards.append("<div class='card'><div class='row'>"
                     + (f"<img class='crop' src='{_e(crop)}' alt='crop'>" if crop else "")
                     + (f"<div class='frame'><img src='{_e(frame)}' alt='frame'>{box}</div>" if frame else "")
                     + f"</div>#{face['rank']} {_why(face)} · {_e(where)}</div>")
    return "<div class='row'>" + "".join(cards) + "</div>"


def _strip(timeline: list, faces: list[dict], width: int = 720, height: int = 80) -> str:
    """Quality over time: the best face of each frame analysed whole; picks as red dots. The vertical
    axis spans the qualities shown (good faces crowd near 1; a 0–1 axis would draw a flat line)."""
    qualities = [q for _, q in timeline if q is not None] + [f["quality"] for f in faces]
    low = max(0.0, min(qualities, default=0.0) - 0.02)
    end = max(t for t, _ in timeline) or 1.0
    x = lambda t: 34 + (width - 40) * t / end  # noqa: E731
    y = lambda q: height - 14 - (height - 24) * (q - low) / max(1e-6, 1.0 - low)  # noqa: E731
    points = " ".join(f"{x(t):.1f},{y(q):.1f}" for t, q in timeline if q is not None)
    dots = "".join(f"<circle cx='{x(f['time']):.1f}' cy='{y(f['quality']):.1f}' r='4' fill='#c22'><title>#{f['rank']} "
                   f"{f['quality']:.3f} at {f['time']:.2f} s</title></circle>" for f in faces)
    labels = (f"<text x='2' y='{y(1.0) + 4:.0f}' font-size='10' fill='#666'>1.00</text>"
              f"<text x='2' y='{y(low) + 4:.0f}' font-size='10' fill='#666'>{low:.2f}</text>"
              f"<text x='34' y='{height - 2}' font-size='10' fill='#666'>0 s</text>"
              f"<text x='{width - 40}' y='{height - 2}' font-size='10' fill='#666'>{end:.1f} s</text>")
    return (f"<svg class='strip' width='{width}' height='{height}'><title>best face quality of each analysed frame; "
            f"red: the picks</title>{labels}<polyline points='{points}' fill='none' stroke='#36c' stroke-width='1.5'/>{dots}</svg>")


def _why(face: dict) -> str:
    """What a pick was ranked by and what went into it."""
    parts = [f"score <b>{face['score']:.2f}</b>" if face.get("score") is not None else "",
             f"quality {face['quality']:.3f}",
             f"network {face['net_quality']:.3f}" if face.get("net_quality") is not None else "",
             f"agreement {face['agreement']:.3f}" if face.get("agreement") is not None else "",
             f"eyes {face['eyes_open']:.2f}" if face.get("eyes_open") is not None else ""]
    return " · ".join(part for part in parts if part)


def _e(text) -> str:
    return html.escape(str(text), quote=True)
