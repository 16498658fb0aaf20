"""Regenerate the generated parts of the docs: the tables of `benchmarks/results/*.md` wherever docs/*.md
marks one (`<!-- results: video.md table 1 -->` … `<!-- /results -->`), and the README's option table
from fqselect/options.py (`<!-- options -->` … `<!-- /options -->`).

    python benchmarks/make_docs.py           # rewrite the marked parts
    python benchmarks/make_docs.py --check   # exit 1 when a marked part is out of date (the test suite runs it)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RESULTS_BLOCK = re.compile(r"(<!-- results: (?P<file>[\w./-]+) table (?P<n>\d+) -->\n)(?P<body>.*?)(<!-- /results -->)", re.S)
OPTIONS_BLOCK = re.compile(r"(<!-- options -->\n)(?P<body>.*?)(<!-- /options -->)", re.S)


def tables(text: str) -> list[str]:
    """The markdown tables of a text, each as its lines."""
    found, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append("\n".join(current) + "\n")
            current = []
    if current:
        found.append("\n".join(current) + "\n")
    return found


def results_table(file: str, number: int) -> str:
    return tables((RESULTS / file).read_text())[number - 1]


def options_table() -> str:
    sys.path.insert(0, str(ROOT))
    from fqselect.options import LiveOptions, Options, RunOptions, settings

    rows = ["| option | meaning | default |", "| --- | --- | --- |"]
    for cls in (Options, RunOptions, LiveOptions):
        for name, (default, setting) in settings(cls).items():
            if not setting.command:
                continue
            spelled = ", ".join(setting.spellings(name))
            shown = "none" if default is None else "off" if default is False else f"{default:,}" if isinstance(default, int) and not isinstance(default, bool) and default > 9999 else str(default)
            if name == "workers":
                shown = "one a core"
            meaning = setting.help.replace("|", "/").replace("<", "&lt;").replace(">", "&gt;")
            rows.append(f"| `{spelled}` | {meaning} | {shown} |")
    return "\n".join(rows) + "\n"


def regenerate(text: str) -> str:
    text = RESULTS_BLOCK.sub(lambda m: m.group(1) + results_table(m["file"], int(m["n"])) + m.group(5), text)
    return OPTIONS_BLOCK.sub(lambda m: m.group(1) + options_table() + m.group(3), text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        new = regenerate(text)
        if new != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print("out of date (run python benchmarks/make_docs.py): " + ", ".join(map(str, stale)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
