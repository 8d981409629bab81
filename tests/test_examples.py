"""Every example runs briefly in a subprocess; an example without an entry here fails."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: example file -> arguments for a short run (offline, on scikit-learn's digits)
SHORT_RUNS = {
    "vae.py": ["--epochs", "1"],
    "priors_and_likelihoods.py": ["--epochs", "1"],
    "compare_estimators.py": ["--epochs", "1", "--quick"],
    "semi_supervised_mnist.py": ["--dataset", "digits", "--labels", "50", "--epochs", "1"],
    "conditional_vae.py": ["--epochs", "1"],
}

#: words each example's output must contain (what the example exists to show)
EXPECTED_OUTPUT = {
    "vae.py": ["test ELBO"],
    "priors_and_likelihoods.py": ["vamp", "test ELBO"],
    "compare_estimators.py": ["importance-sampled bound", "meanfield"],
    "semi_supervised_mnist.py": ["accuracy"],
    "conditional_vae.py": ["ELBO(x|y)", "one row of samples per class"],
}


def test_every_example_is_covered():
    present = {p.name for p in EXAMPLES.glob("*.py")}
    assert present == set(SHORT_RUNS), f"add short runs for: {present - set(SHORT_RUNS)}"


@pytest.mark.parametrize("name", sorted(SHORT_RUNS))
def test_example_runs(name, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *SHORT_RUNS[name]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for word in EXPECTED_OUTPUT.get(name, []):
        assert word in proc.stdout, f"{name} did not print {word!r}"
