"""Code of the user's own by name: plugins found through the entry-point group
``pyrovae.plugins``, ``--import MODULE`` recorded in the run, and ``pyrovae list`` showing what
is registered at that moment.

Plugins are tested as installed packages are found: a fake ``*.dist-info`` folder with an
``entry_points.txt`` in a folder put on ``PYTHONPATH`` of a fresh process.
"""

import json
import os
import subprocess
import sys

import pytest

from pyrovae import ConfigError, Registry
from pyrovae.cli import main

PRIOR = '''
import pyro.distributions as dist
import torch

import pyrovae as pv


@pv.PRIORS.register("{name}")
class StudentT(pv.Prior):
    """Heavy-tailed prior: independent Student-t with `df` degrees of freedom."""

    def __init__(self, z_dim, df=3.0):
        super().__init__(z_dim)
        self.register_buffer("df", torch.tensor(float(df)))

    def forward(self):
        return dist.StudentT(self.df, self.df.new_zeros(self.z_dim), 1.0).to_event(1)
'''

TINY = ["--epochs", "1", "--z-dim", "2", "--quiet", "--set", "model.encoder.hidden=[8]",
        "--set", "model.decoder.hidden=[8]", "--set", "train.num_threads=1"]


def site(root, dist, module, source):
    """A folder holding ``module.py`` and the metadata of an installed distribution ``dist``
    whose ``pyrovae.plugins`` entry point names that module."""
    root.mkdir()
    (root / f"{module}.py").write_text(source)
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[pyrovae.plugins]\nthings = {module}\n")
    return root


def run_python(code, path, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH",
                                                                                   "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_a_plugins_prior_is_listed_and_trains_while_help_stays_fast(tmp_path):
    path = site(tmp_path / "site", "fake-plugin", "fakeplugin", PRIOR.format(name="plugin-t"))
    code = f"""
import json, sys
from pyrovae.cli import main
for argv in (["--help"], ["train", "--help"]):
    try:
        main(argv)
    except SystemExit:
        pass
print("IMPORTED", sorted({{"fakeplugin", "torch"}} & set(sys.modules)))
main(["list", "--json"])
print("LISTED")
print("CODES", main(["train", "--prior", "plugin-t", "--out", "run", *{TINY!r}]),
      main(["evaluate", "run", "--json"]))
"""
    done = run_python(code, path, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "IMPORTED []" in out  # --help reads no plugin (and no torch)
    listed = json.loads(out[out.index("{"):out.index("LISTED")])
    assert listed["priors"]["plugin-t"].startswith("Heavy-tailed prior")
    assert "CODES 0 0" in out
    assert 'name = "plugin-t"' in (tmp_path / "run" / "config.toml").read_text()


def test_a_broken_plugin_is_one_line_naming_its_package(tmp_path):
    path = site(tmp_path / "site", "broken-plugin", "brokenplugin",
                "import os\n\nraise RuntimeError('nope')\n")
    done = run_python("import sys\nfrom pyrovae.cli import main\nsys.exit(main(['list']))",
                      path, tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert ("the pyrovae.plugins entry point 'things' of broken-plugin (brokenplugin) failed to "
            "import: RuntimeError: nope") in done.stderr
    assert "fix or uninstall broken-plugin" in done.stderr


def test_an_imported_prior_is_recorded_and_found_again(tmp_path, capsys):
    """``train --import FILE`` records the import (and the file's SHA-256); a fresh process
    evaluating the run imports it again. A run without the record says ``--import MODULE``, and
    ``evaluate --import`` gets it."""
    mine = tmp_path / "mypriors.py"
    mine.write_text(PRIOR.format(name="student-t-import"))
    run = tmp_path / "run"
    assert main(["train", "--import", str(mine), "--prior", "student-t-import", "--out",
                 str(run), *TINY]) == 0
    text = (run / "config.toml").read_text()
    assert f'imports = [\n    "{mine}",\n]' in text or f'imports = ["{mine}"]' in text
    assert f'"{mine}" = "' in text  # its SHA-256
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet", "--import",
                 str(mine)]) == 0  # --import goes with --resume: it changes nothing recorded
    bare = tmp_path / "bare"  # the same run as an older pyrovae (or python -c) left it
    bare.mkdir()
    for path in run.iterdir():
        (bare / path.name).write_bytes(path.read_bytes())
    lines = text.splitlines()
    start = lines.index("[plugins]")
    (bare / "config.toml").write_text("\n".join(lines[:start]) + "\n")
    code = f"""
import sys
from pyrovae.cli import main
print("CODES", main(["evaluate", {str(bare)!r}]), main(["evaluate", {str(run)!r}]),
      main(["evaluate", {str(bare)!r}, "--import", {str(mine)!r}]))
"""
    done = run_python(code, tmp_path, tmp_path)
    assert "CODES 2 0 0" in done.stdout, done.stderr
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and "unknown prior 'student-t-import'" in err[0], err
    assert "import that module first (plugins.imports)" in err[0]


def test_a_module_registered_as_a_model_kind_by_name(tmp_path, capsys):
    """A plain ``nn.Module`` registered with ``@pv.MODELS.register`` in an imported module is
    a kind by that name (wrapped when the registry hands it out)."""
    from pathlib import Path

    source = (Path(__file__).parent / "user_models" / "two_layer.py").read_text()
    source = source.replace("class TwoLayer(nn.Module):",
                            "import pyrovae as pv\n\n\n@pv.MODELS.register(\"two-layer-named\")"
                            "\nclass TwoLayer(nn.Module):")
    mine = tmp_path / "named.py"
    mine.write_text(source)
    run = tmp_path / "run"
    assert main(["train", "--import", str(mine), "--model", "two-layer-named", "--out",
                 str(run), "--epochs", "1", "--quiet", "--set", "model.hidden=8"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--iwae-k", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kl_sites"].keys() == {"z1", "z2"}
    assert main(["list", "--json"]) == 0
    assert "two stochastic layers" in json.loads(capsys.readouterr().out)["models"][
        "two-layer-named"]


def test_list_shows_what_import_registers(tmp_path, capsys):
    mine = tmp_path / "listed.py"
    mine.write_text(PRIOR.format(name="student-t-listed"))
    capsys.readouterr()
    assert main(["list", "--json", "--import", str(mine)]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["priors"]["student-t-listed"].startswith("Heavy-tailed")
    assert {"vae", "m2"} <= set(table["models"])


@pytest.mark.parametrize("target, fragment", [
    ("no_such_module_of_mine", "there is no module named 'no_such_module_of_mine'"),
    ("missing.py", "the file missing.py (relative to "),
    ("raising.py", "importing raising.py failed: ZeroDivisionError: division by zero "),
], ids=["unknown-module", "missing-file", "raises"])
@pytest.mark.parametrize("command", [["list"], ["train", "--out", "x"], ["evaluate", "run"]],
                         ids=["list", "train", "evaluate"])
def test_a_bad_import_is_one_line(tmp_path, monkeypatch, capsys, target, fragment, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raising.py").write_text("x = 1\ny = 1 / 0\n")
    assert main([*command, "--import", target]) == 2
    err = capsys.readouterr().err
    # a fresh train imports them through load_config (plugins.imports), the others in the CLI
    where = f"plugins.imports '{target}'" if command[0] == "train" else f"--import {target}"
    assert err.startswith(f"pyrovae: error: {where}: ") and err.count("\n") == 1, err
    assert fragment in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raising.py"]


def test_a_registry_loader_and_a_definition_imported_again():
    """A registry's loader answers names it does not hold (model specs); a component defined
    again by its module (a reload) replaces the old one, and another component under a taken
    name is refused."""
    seen = []

    def loader(name):
        seen.append(name)
        return len if name.endswith(":len") else None

    reg = Registry("widget", loader=loader)
    assert reg.get("builtins:len") is len
    with pytest.raises(ConfigError, match=r"unknown widget 'nope'.*\(plugins\.imports\)"):
        reg.get("nope")
    assert seen == ["builtins:len", "nope"]
    first = type("Round", (), {"__module__": "shapes", "__qualname__": "Round"})
    again = type("Round", (), {"__module__": "shapes", "__qualname__": "Round"})
    other = type("Round", (), {"__module__": "elsewhere", "__qualname__": "Round"})
    reg.register("round", first)
    reg.register("round", again)
    assert reg.get("round") is again
    with pytest.raises(ValueError, match="already registered"):
        reg.register("round", other)
