"""The Python code blocks of README.md run as written (with fewer epochs)."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_python_blocks_run(tmp_path):
    blocks = python_blocks()
    assert len(blocks) >= 2, "README lost its quickstart or registration example"
    code = "\n".join(blocks)
    code = re.sub(r"epochs=\d+", "epochs=1", code)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
