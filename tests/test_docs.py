"""The generated parts of README.md and docs/ (the option table, the benchmark tables) match their sources."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_docs_are_up_to_date():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_docs.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_option_of_the_command_is_in_the_readme():
    from fqselect.options import LiveOptions, Options, RunOptions, settings

    readme = (ROOT / "README.md").read_text()
    for cls in (Options, RunOptions, LiveOptions):
        for name, (_, setting) in settings(cls).items():
            if setting.command:
                assert f"`{', '.join(setting.spellings(name))}`" in readme, name
