"""Messages of the library are worded for both of its audiences.

pyrovae is used from its command line and from Python (``pv.load_config``, ``pv.fit``,
``pv.load_run``, ...). A message raised by library code names the config key with its value as
TOML writes it (``train.objective = "trace"``, ``model.kind = "m2"``, ``data.dir``), which a
Python user writes in a config and a CLI user with ``--set key=value`` or the TOML file; a CLI
flag (``--objective trace``) is wrong advice for a Python caller. Only ``pyrovae/cli.py`` may
name its flags.

The scan reads every string literal and f-string of the library that is not a docstring, not
only those inside ``raise`` and ``warnings.warn(...)``: a message is often put together from
parts made elsewhere (a ``where=`` default, a module-level hint, an ``elsewhere=`` argument).
"""

import ast
import re
import textwrap
from pathlib import Path

import pyrovae

PACKAGE = Path(pyrovae.__file__).resolve().parent
ROOT = PACKAGE.parent

#: a command-line flag: ``--set``, ``--data-dir`` (not ``a--b``, ``---`` or a bare ``--``)
FLAG = re.compile(r"(?<![\w-])--[a-z][\w-]*")

#: the command line itself: its messages may name its flags
CLI = {"pyrovae/cli.py"}

#: files not checked yet (none: every library file is)
PENDING = set()

#: (file, fragment of a literal) -> why the flags in that fragment may stay: only where the flag
#: is the only way to say it and the message can be reached from the command line alone
EXCEPTIONS = {}


def _docstrings(tree):
    """The ids of the string constants that are docstrings (of a module, class or function)
    or other bare string statements (attribute docstrings)."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)}


def literals(source):
    """``(line, text)`` of every string literal of ``source`` that is not a docstring; an
    f-string is one text, ``{}`` for each of its replacement fields."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}"
                                       for v in node.values)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in skip):
            yield node.lineno, node.value


def flags_in(rel, source):
    """``"file:line: --flag in 'text'"`` for each flag of ``source`` that no exception
    allows."""
    allowed = [fragment for (path, fragment) in EXCEPTIONS if path == rel]
    found = []
    for line, text in literals(source):
        for match in FLAG.finditer(text):
            if not any(match.group() in fragment and fragment in text for fragment in allowed):
                found.append(f"{rel}:{line}: {match.group()} in {text!r}")
    return found


def _library_files():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel not in CLI and rel not in PENDING:
            yield rel, path


def test_library_messages_name_config_keys_not_cli_flags():
    found = [hit for rel, path in _library_files()
             for hit in flags_in(rel, path.read_text(encoding="utf-8"))]
    assert not found, (
        "library code names command-line flags in its messages; name the config key "
        '(e.g. train.objective = "trace") or the Python argument instead:\n' + "\n".join(found))


def test_the_scan_finds_flags_in_every_part_of_a_message_and_skips_docstrings():
    source = textwrap.dedent('''
        """A docstring may describe the CLI: ``pyrovae train --lr 0.1``."""
        import warnings

        HINT = "; import it with --import MODULE"

        def check(name, where="--device"):
            """``--device``, described."""
            if name:
                raise ValueError(f"{where}: use --objective trace{HINT}")
            warnings.warn("pass --set data.binarize=none")
            return f"--plugin {name}"
    ''')
    hits = [hit.split(": ")[1].split(" in ")[0] for hit in flags_in("x.py", source)]
    assert sorted(hits) == ["--device", "--import", "--objective", "--plugin", "--set"], hits
    for text in ["a--b", "---", "-- alone", "train.lr = 1e-3", "ulimit -n", "k --"]:
        assert not FLAG.search(text), text


def test_the_allow_lists_name_what_is_there():
    """Every file the lists name exists (a renamed file is renamed here too), and each
    exception still matches a literal of its file (else it is dropped)."""
    assert all((ROOT / rel).is_file() for rel in CLI), CLI
    for rel, fragment in EXCEPTIONS:
        source = (ROOT / rel).read_text(encoding="utf-8")
        assert any(fragment in text for _, text in literals(source)), (rel, fragment)
        assert FLAG.search(fragment), (rel, fragment)
