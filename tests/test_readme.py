"""The Python code blocks of README.md run as written (with fewer epochs), and its
configuration block shows the real defaults."""

import re
import subprocess
import sys
import tomllib
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


def configuration_block():
    """The TOML block of README's "Configuration" section, parsed."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```toml\n(.*?)```", section, flags=re.S)
    assert blocks, "README's Configuration section lost its TOML block"
    return tomllib.loads(blocks[0])


def test_readme_configuration_block_shows_the_defaults():
    """The block says it shows the defaults: every key in it has the value that a run with no
    config gets; a component shown by name, or as a table of some of its options, has that
    name and those option values."""
    from pyrovae.config import config_to_dict, load_config

    shown, defaults = configuration_block(), config_to_dict(load_config())
    assert set(shown) == set(defaults), "the block shows other sections than the config has"
    for section, keys in shown.items():
        for key, value in keys.items():
            where = f"README [{section}] {key} = {value!r}"
            assert key in defaults[section], f"{where}: no such key"
            default = defaults[section][key]
            if isinstance(default, dict) and "name" in default:  # a component
                value = {"name": value} if isinstance(value, str) else value
                default = {option: default.get(option) for option in value}
            assert value == default, f"{where}, but the default is {default!r}"
