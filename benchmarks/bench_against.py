"""Whole commands of this checkout (A) against another commit (B), in paired rounds: what a change costs.

    python benchmarks/bench_against.py --before 2ba9843 [--rounds 5] [--seconds 60] [--out PATH]

B is checked out into a temporary git worktree. Every command runs as `python -m fqselect ...` with its
checkout as the working directory, so each imports its own package, compiled to bytecode as an install
leaves it; after one warm-up run each, the
rounds alternate A B A B. Inputs: the six-face group clip of examples/make_example.make_group_clip
(`--seconds` long, 25 fps) as H.264 with B-frames, IP-camera H.264 and HEVC at 1280×720 and H.264 at
1920×1080, the one-face clip of make_example.make_clip as long, and a folder of 20 photos of one CelebA
identity (../shared/data/celeba). Also `--per-person`
against the default on the H.264 720p clip (A alone) and `fqselect --help`. Reported: median wall
seconds, the median of the rounds' A/B ratios (this VM's spread is about ±0.1), peak RSS.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_video import LAUNCHER, examples_module  # noqa: E402

COMMAND = ("--top", "3", "--jsonl", "-q")
CLIPS = (("H.264 1280×720 (B-frames)", "h264", (1280, 720)), ("IP-camera H.264 1280×720", "h264-camera", (1280, 720)),
         ("HEVC 1280×720", "hevc", (1280, 720)), ("H.264 1920×1080", "h264", (1920, 1080)))
FOLDER_PHOTOS = 20


def launch(checkout: Path, *args: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of `python -m fqselect args` run from `checkout`."""
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, "-m", "fqselect", *args],
                          capture_output=True, text=True, cwd=checkout)
    seconds, rss, code = proc.stderr.strip().splitlines()[-1].split()
    if int(code) != 0:
        raise RuntimeError(f"{args} from {checkout} exited with {code}: {proc.stderr.strip()}")
    return float(seconds), int(rss)


def paired(a: tuple[Path, tuple], b: tuple[Path, tuple], rounds: int) -> tuple[float, float, float, int, int]:
    """Median seconds of A and B, the median of the rounds' A/B ratios, peak RSS of A and B."""
    launch(*a[:1], *a[1]), launch(*b[:1], *b[1])
    runs = [(launch(a[0], *a[1]), launch(b[0], *b[1])) for _ in range(rounds)]
    return (statistics.median(x[0] for x, _ in runs), statistics.median(y[0] for _, y in runs),
            statistics.median(x[0] / y[0] for x, y in runs), max(x[1] for x, _ in runs), max(y[1] for _, y in runs))


def photo_folder(shared: Path, work: Path) -> Path | None:
    """FOLDER_PHOTOS photos of the first CelebA identity that has as many (symlinks), or None."""
    images = shared / "data" / "celeba" / "images"
    for person in sorted(p for p in images.iterdir() if p.is_dir()) if images.is_dir() else []:
        photos = sorted(person.glob("*.jpg"))
        if len(photos) >= FOLDER_PHOTOS:
            folder = work / "photos"
            folder.mkdir()
            for photo in photos[:FOLDER_PHOTOS]:
                (folder / photo.name).symlink_to(photo)
            return folder
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the commit to measure against (B)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--help-only", action="store_true", help="time `fqselect --help` alone")
    args = parser.parse_args()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    dirty = " with uncommitted changes" if subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT).returncode else ""
    make = examples_module()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work, before = Path(tmp), Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(before), args.before], cwd=ROOT, check=True)
        for checkout in (ROOT, before):  # as an install leaves them (this VM sets PYTHONDONTWRITEBYTECODE)
            compileall.compile_dir(checkout / "fqselect", quiet=1)
        try:
            inputs = []
            for name, encoding, size in () if args.help_only else CLIPS:
                clip = work / f"{encoding}_{size[1]}p.mp4"
                make.make_group_clip(clip, size, args.seconds * 25, encoding=encoding)
                inputs.append((f"{args.seconds}-s six-face group clip, {name}", (str(clip), *COMMAND)))
            if not args.help_only:
                one = work / "one_face.mp4"
                make.make_clip(one, fps=25, seconds=args.seconds / 8)
                inputs.append((f"{args.seconds}-s one-face clip (make_clip, eight degradations)", (str(one), *COMMAND)))
            folder = None if args.help_only else photo_folder(args.shared, work)
            if folder:
                inputs.append((f"a folder of {FOLDER_PHOTOS} CelebA photos of one person", (str(folder), *COMMAND)))
            inputs.append(("`fqselect --help`", ("--help",)))
            for name, command in inputs:
                a_s, b_s, ratio, a_mib, b_mib = paired((ROOT, command), (before, command), args.rounds)
                rows.append(f"| {name} | {args.rounds} | {a_s:.3f} | {b_s:.3f} | {ratio:.2f} | {a_mib} / {b_mib} |")
                print(rows[-1], flush=True)
            extra = ""
            if not args.help_only:
                clip = inputs[0][1][0]
                per_person, default, ratio, *_ = paired((ROOT, (clip, *COMMAND, "--per-person")), (ROOT, (clip, *COMMAND)),
                                                        args.rounds)
                extra = (f"`--per-person` against the default, both of A, on the H.264 720p clip: {per_person:.3f} against "
                         f"{default:.3f} s, {ratio:.2f}× ({args.rounds} pairs).")
                print(extra)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT)
    text = "\n".join([
        f"# This checkout against commit {args.before} (`python benchmarks/bench_against.py --before {args.before}`)", "",
        f"Whole commands, A = commit {head}{dirty}, B = commit {args.before}, paired rounds (A B A B …) after a warm-up, "
        f"on this {len(__import__('os').sched_getaffinity(0))}-core machine, {datetime.date.today()}. Wall seconds, medians; "
        "A/B the median of the rounds' ratios (this VM's spread is about ±0.1). The command is `fqselect INPUT "
        + " ".join(COMMAND) + "`.", "",
        "| input | rounds | A wall s | B wall s | A/B | peak MiB A / B |", "| --- | --- | --- | --- | --- | --- |",
        *rows, "", extra, ""])
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
