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
import math
from pathlib import Path

from .manifest import MANIFEST
from .sheet import input_file, write_sheet

FAILURES = "failures.jsonl"
REPORT = "report.html"
RUN = "run.json"  # the last run's date, version, command, options and models (cli/select.py)


def write_failures(out: Path, results, run: str | None) -> None:
    """The run's failed and face-less inputs with their reasons, appended to `failures.jsonl` (for the
    report's index and for whoever retries them) with the run's name: runs that share an --out each keep
    their lines (small appends to one file are atomic)."""
    lines = "".join(json.dumps({"run": run, "input": r.input, "status": r.status, "error": r.error}) + "\n"
                    for r in results if r.status in ("failed", "no_face"))
    if lines:
        with open(out / FAILURES, "a", encoding="utf-8") as handle:
            handle.write(lines)


def load_inputs(out: Path) -> tuple[list[dict], list[dict]]:
    """Every input's manifest (with `folder`, its output folder's name), in the order of its run and its
    place in it, and the inputs that have failed and have no output since (each input's latest failure)."""
    inputs = []
    for manifest in out.glob(f"*/{MANIFEST}"):
        try:
            entry = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue  # not ours, or damaged: the report shows what it can
        entry["folder"] = manifest.parent.name
        inputs.append(entry)
    inputs.sort(key=lambda e: (e.get("run") or "", e.get("position") if e.get("position") is not None else 1 << 30,
                               e["folder"]))
    done = {entry["input"] for entry in inputs}
    latest: dict[str, dict] = {}
    if (out / FAILURES).is_file():
        for line in (out / FAILURES).read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                failure = json.loads(line)
            except ValueError:
                continue
            if failure.get("input") not in done:
                latest[failure["input"]] = failure
    return inputs, list(latest.values())


def build_report(out: Path, sheet_only: bool = False) -> list[Path]:
    """Write the contact sheet and (unless `sheet_only`) the page into `out`; the files written."""
    out = Path(out)
    inputs, failures = load_inputs(out)
    written = [write_sheet(out, inputs)]
    if not sheet_only:
        run = _read_json(out / RUN)
        (out / REPORT).write_text(render_page(inputs, failures, run), encoding="utf-8")
        written.insert(0, out / REPORT)
    return written


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------------------- the page
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:28px 0 6px;overflow-wrap:anywhere}
.run{color:#444;font-size:13px;margin-bottom:12px}.run code{background:#eee;padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
table.index{border-collapse:collapse;width:100%}table.index td,table.index th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left;overflow-wrap:anywhere}
table.index .n{white-space:nowrap;overflow-wrap:normal}
@media (max-width:640px){table.index tr,table.index td{display:block}table.index tr:first-child{display:none}
table.index tr{border-bottom:1px solid #ddd;padding:4px 0}table.index td{border:none;padding:1px 4px}
table.index td.n{display:inline-block;padding-right:12px}table.index td:empty{display:none}
table.index td[data-label]::before{content:attr(data-label) ": ";color:#666}}
.failed{color:#b00}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:12px;margin:6px 0}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px;font-size:12px;display:flex;gap:8px;align-items:flex-start}
.card img.crop{width:112px;height:112px;display:block;flex:none}
.frame{position:relative;display:inline-block;max-width:240px;flex:none}.frame img{max-width:240px;max-height:240px;display:block}
.box{position:absolute;border:2px solid #2a2;box-sizing:border-box}
.why{margin-top:4px}.person{font-weight:600;margin-top:10px}.meta{color:#666;font-size:12px}
svg.strip{background:#fff;border:1px solid #ddd;display:block;margin:6px 0;width:100%;max-width:960px;height:auto}
"""

COUNT_IMAGES = """<script>
window.addEventListener('load', () => {
  const shown = [...document.images].filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesShown = shown;
  document.body.dataset.imagesTotal = document.images.length;
  document.body.dataset.width = document.documentElement.scrollWidth > window.innerWidth ? "overflows" : "fits";
});
</script>"""


def render_page(inputs: list[dict], failures: list[dict], run: dict | None = None) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
             f"<title>fqselect report</title><style>{STYLE}</style></head><body>",
             f"<h1>fqselect report: {len(inputs)} input{'s' * (len(inputs) != 1)} with picks, {len(failures)} without</h1>",
             _run(run), _index(inputs, failures)]
    parts += [_section(number, entry) for number, entry in enumerate(inputs)]
    parts.append(COUNT_IMAGES + "</body></html>")
    return "\n".join(parts)


def _run(run: dict | None) -> str:
    """The last run's date, version, command, options and models."""
    if not run:
        return ""
    options = run.get("options", {})
    shown = ", ".join(f"{k} {v}" for k, v in options.items() if v not in (None, False)) if options else ""
    models = ", ".join(f"{k} {v}" for k, v in run.get("models", {}).items())
    return (f"<div class='run'>Last run {_e(run.get('finished', ''))}, fqselect {_e(run.get('fqselect_version', ''))}: "
            f"<code>{_e(run.get('command', ''))}</code><br>options: {_e(shown)}<br>models: {_e(models)}</div>")


def _index(inputs: list[dict], failures: list[dict]) -> str:
    rows = ["<table class='index'><tr><th>input</th><th class='n'>kind</th><th class='n'>picks</th>"
            "<th class='n'>first pick: score, quality</th><th>status</th></tr>"]
    for number, entry in enumerate(inputs):
        first = [f for f in entry["faces"] if f.get("rank") == 1]  # the pick ranked first (per person: the first person's)
        best = "" if not first else (f"{first[0]['score']:.2f}, " if first[0].get("score") is not None else "") + f"{first[0]['quality']:.3f}"
        status = "; ".join([*entry.get("warnings", []), *entry.get("notes", [])]) or "ok"
        rows.append(f"<tr><td><a href='#input{number}'>{_e(entry['input'])}</a></td><td class='n'>{_e(entry.get('kind', ''))}</td>"
                    f"<td class='n' data-label='picks'>{len(entry['faces'])}</td><td class='n' data-label='first pick'>{best}</td><td>{_e(status)}</td></tr>")
    for failure in failures:
        label = "no face" if failure["status"] == "no_face" else "failed"
        rows.append(f"<tr class='failed'><td>{_e(failure['input'])}</td><td></td><td class='n' data-label='picks'>0</td><td></td>"
                    f"<td>{label}: {_e(failure.get('error') or '')}</td></tr>")
    return "\n".join(rows) + "</table>"


def _section(number: int, entry: dict) -> str:
    kind = entry.get("kind", "")
    if kind == "video":
        counts = (f"video: {entry.get('frames_decoded', 0)} frames decoded, {entry.get('frames_analysed', 0)} searched "
                  f"whole, {entry.get('faces_seen', 0)} faces seen")
    else:
        photos = entry.get('frames_decoded', 0)
        counts = f"{kind}: {photos} photo{'s' * (photos != 1)}, {entry.get('faces_seen', 0)} faces seen"
    parts = [f"<h2 id='input{number}'>{_e(entry['input'])}</h2>", f"<div class='meta'>{_e(counts)}</div>"]
    persons = entry.get("persons")
    if entry.get("timeline") and kind == "video":
        parts.append(_strip(entry, persons))
    if persons:
        for person in persons:
            faces = [f for f in entry["faces"] if f.get("person") == person["id"]]
            name = f" — {_e(person['identity'])} ({person['similarity']:.2f})" if person.get("identity") else ""
            span = f", {person['first_time']:.1f}–{person['last_time']:.1f} s" if kind == "video" else ""
            parts.append(f"<div class='person' style='color:{_colour(person['id'])}'>person {person['id']}{name}: "
                         f"{person['faces_seen']} faces{span}</div>")
            parts.append(_cards(entry, faces))
    else:
        parts.append(_cards(entry, entry["faces"]))
    return "\n".join(parts)


def _cards(entry: dict, faces: list[dict]) -> str:
    cards = []
    for face in faces:
        where = (Path(face["source"]).name if entry.get("kind") in ("folder", "image")
                 else f"{face['time']:.2f} s, frame {face['frame']}")
        crop, frame = input_file(entry, face.get("crop_file")), input_file(entry, face.get("frame_file"))
        box = ""
        if face.get("frame_size"):
            width, height = face["frame_size"]
            x1, y1, x2, y2 = face["bbox"]
            box = (f"<div class='box' style='left:{100 * x1 / width:.2f}%;top:{100 * y1 / height:.2f}%;"
                   f"width:{100 * (x2 - x1) / width:.2f}%;height:{100 * (y2 - y1) / height:.2f}%'></div>")
        cards.append("<div class='card'>"
                     + (f"<a href='{_e(crop)}'><img class='crop' src='{_e(crop)}' alt='crop'></a>" if crop else "")
                     + "<div>"
                     + (f"<a href='{_e(frame)}' class='frame'><img src='{_e(frame)}' alt='frame'>{box}</a>" if frame else "")
                     + f"<div class='why'>#{face['rank']} · {_e(where)}<br>{_why(face)}</div></div></div>")
    return "<div class='grid'>" + "".join(cards) + "</div>"


# The strip's vertical axis: the network's quality on a log-odds scale, the same for every input, labelled
# in quality (good faces crowd near 1, where a linear axis would draw a flat line).
STRIP_TICKS = (0.1, 0.5, 0.9, 0.99, 0.999)
STRIP_LOW, STRIP_HIGH = math.log(0.05 / 0.95), math.log(0.9995 / 0.0005)


def _strip(entry: dict, persons: list[dict] | None, width: int = 960, height: int = 120) -> str:
    """Quality over time: the network's quality of the best face of each frame searched whole (with
    --per-person, each person's own line), the picks marked on the line; seconds along, quality up."""
    left, bottom, top = 44, height - 18, 8
    lines = ([(person["id"], person.get("timeline") or []) for person in persons] if persons
             else [(None, entry["timeline"])])
    times = [t for _, timeline in lines for t, q in timeline if q is not None] or [0.0]
    end = max(max(times), 1e-6)
    x = lambda t: left + (width - left - 8) * t / end  # noqa: E731
    y = lambda q: bottom - (bottom - top) * (_logit(q) - STRIP_LOW) / (STRIP_HIGH - STRIP_LOW)  # noqa: E731
    svg = [f"<svg class='strip' viewBox='0 0 {width} {height}' preserveAspectRatio='xMinYMin meet'><title>the network's "
           f"quality of the best face of each frame searched whole; dots: the picks</title>"]
    for tick in STRIP_TICKS:
        svg.append(f"<line x1='{left}' x2='{width - 8}' y1='{y(tick):.1f}' y2='{y(tick):.1f}' stroke='#eee'/>"
                   f"<text x='{left - 4}' y='{y(tick) + 3:.1f}' font-size='10' fill='#666' text-anchor='end'>{tick:g}</text>")
    for second in _time_ticks(end):
        svg.append(f"<text x='{x(second):.1f}' y='{height - 4}' font-size='10' fill='#666' text-anchor='middle'>{second:g} s</text>")
    for person, timeline in lines:
        colour = _colour(person)
        points = " ".join(f"{x(t):.1f},{y(q):.1f}" for t, q in timeline if q is not None)
        svg.append(f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='1.5'/>")
        for face in entry["faces"]:
            if face.get("person") == person:
                quality = face.get("net_quality") if face.get("net_quality") is not None else face["quality"]
                svg.append(f"<circle cx='{x(face['time']):.1f}' cy='{y(quality):.1f}' r='4.5' fill='{colour}' stroke='#000'>"
                           f"<title>#{face['rank']} at {face['time']:.2f} s: network {quality:.3f}</title></circle>")
    svg.append("</svg>")
    return "".join(svg)


def _time_ticks(end: float) -> list[float]:
    step = next(s for s in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, math.inf) if end / s <= 10)
    return [i * step for i in range(int(end / step) + 1)] if math.isfinite(step) else [0.0]


def _logit(q: float) -> float:
    q = min(max(q, 1e-4), 1 - 1e-4)
    return min(max(math.log(q / (1 - q)), STRIP_LOW), STRIP_HIGH)


def _colour(person: int | None) -> str:
    palette = ("#36c", "#c63", "#393", "#939", "#c93", "#399", "#666")
    return palette[0] if person is None else palette[person % len(palette)]


def _why(face: dict) -> str:
    """What a pick was ranked by and what went into it."""
    parts = [f"score <b>{face['score']:.2f}</b>" if face.get("score") is not None else "",
             f"quality {face['quality']:.3f}",
             f"network {face['net_quality']:.3f}" if face.get("net_quality") is not None else "",
             f"agreement {face['agreement']:.3f}" if face.get("agreement") is not None else "",
             f"eyes {face['eyes_open']:.2f}" if face.get("eyes_open") is not None else "",
             f"gaze {face['gaze']:.2f}" if face.get("gaze") is not None else "",
             f"mouth {face['mouth_open']:.2f}" if face.get("mouth_open") is not None else ""]
    return " · ".join(part for part in parts if part)


def _e(text) -> str:
    return html.escape(str(text), quote=True)
