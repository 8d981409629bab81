"""``pyrovae list`` reads a written-out catalogue (no torch); it must match the registries."""

import subprocess
import sys

from pyrovae.catalogue import CATALOGUE, build


def test_the_catalogue_is_the_registries():
    assert CATALOGUE == build(), "stale: run python -m pyrovae.catalogue"


def test_help_and_list_do_not_import_torch():
    """Start-up: --help and list answer without importing torch or Pyro (0.03 s here, against
    about 2 s with them)."""
    code = ("import sys\nfrom pyrovae.cli import main\n"
            "for argv in (['list'], ['list', '--json']):\n    main(argv)\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted({'torch', 'pyro', 'numpy'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.splitlines()[-1] == "[]"
    assert "objectives:" in done.stdout and "burda2016" in done.stdout
