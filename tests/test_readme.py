"""README.md is a user guide that stays true: its Python code blocks run as written (with fewer
epochs), its configuration block shows the real defaults, it keeps the two set-up commands, its
relative links lead to files that exist, its results table agrees with the results pages it
points to, and it stays short (the details live in docs/)."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_LINES = 350

#: the two commands a newcomer copies first, exactly as the README must show them
SETUP_COMMANDS = [
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && pyrovae train",
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && pytest -n 2',
]


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


def test_readme_is_short():
    """A user guide of at most 350 lines: measurements and long explanations go to docs/."""
    lines = README.read_text().count("\n")
    assert lines <= MAX_LINES, f"README.md has {lines} lines; keep it to {MAX_LINES}"


def test_readme_keeps_the_setup_commands():
    bash = "\n".join(re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S))
    for command in SETUP_COMMANDS:
        assert command in bash.splitlines(), f"README lost the set-up command: {command}"


def relative_links(text):
    """``(target, anchor)`` of every Markdown link that is not a URL or a same-page anchor."""
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://|mailto:|#", target):
            continue
        path, _, anchor = target.partition("#")
        yield path, anchor


def test_readme_links_lead_to_files():
    """Every relative link of README names a file of the checkout (GitHub renders docs/*.md)."""
    links = list(relative_links(README.read_text()))
    assert any(path.startswith("docs/") for path, _ in links), "README links no docs page"
    missing = sorted({path for path, _ in links if not (ROOT / path).exists()})
    assert not missing, f"README links to files that do not exist: {missing}"


def test_readme_same_page_anchors_exist():
    text = README.read_text()
    slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
             for h in re.findall(r"^#+ (.*)$", text, flags=re.M)}
    anchors = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert anchors <= slugs, f"README links to headings it lacks: {sorted(anchors - slugs)}"


def results_rows():
    """``(row text, its pyrovae number, the results page it points to)`` for each row of the
    README's results table."""
    section = README.read_text().split("\n## Results\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # past the
    # header and its |---| line
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        page = re.search(r"\((docs/results/[^)#]+)", row)
        yield row, cells[1], page and page[1]


def test_readme_results_agree_with_their_pages():
    """The summary table has at most 10 rows; each points to a results page, and its pyrovae
    number is on that page (the page is where the number's command, budget and date are)."""
    rows = list(results_rows())
    assert 0 < len(rows) <= 10, f"README's results table has {len(rows)} rows (1 to 10)"
    for row, measured, page in rows:
        assert page, f"a results row points to no docs/results page: {row}"
        number = re.search(r"\d[\d.]*", measured)
        assert number, f"a results row has no number: {row}"
        text = (ROOT / page).read_text()
        assert number[0] in text, f"{number[0]} ({row.split('|')[1].strip()}) is not on {page}"
