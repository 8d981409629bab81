"""The scheduler battery: every registered learning-rate schedule, tested the moment it exists.

Each schedule is stepped through :data:`EPOCHS` epochs (with a validation ELBO sequence that
rises, stalls and skips validation) on an optimizer with two parameter groups, and the rate of
each group after every epoch is compared with a formula written out by hand in
:data:`REFERENCES`. A registered schedule without a reference fails
:func:`test_every_scheduler_has_a_reference`. Saving the state half-way and loading it into a
freshly built optimizer and scheduler must continue the sequence bit for bit.
"""

import functools
import io
import math

import pytest
import torch
from torch import nn

from pyrovae.errors import CheckpointError, ConfigError
from pyrovae.schedulers import SCHEDULERS

EPOCHS = 12
LRS = (0.1, 0.02)  # the two parameter groups' initial rates
#: validation ELBO after each epoch; None = no validation that epoch
ELBOS = [-100.0, -90.0, -89.995, None, -89.992, -95.0, -89.0, -89.0, None, -89.0, -89.0, -88.0]


def _none(k, lr0, elbos):
    return lr0


def _step(k, lr0, elbos):
    return lr0 * 0.5 ** (k // 3)


def _multistep(k, lr0, elbos):
    return lr0 * 0.3 ** sum(k >= m for m in (2, 5, 9))


def _exponential(k, lr0, elbos):
    return lr0 * 0.8**k


def _cosine(k, lr0, elbos, t=8, eta_min=1e-3):
    return eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * min(k, t) / t)) / 2


def _plateau(k, lr0, elbos, factor=0.5, patience=1, threshold=0.01, min_lr=0.015):
    """Replay the rule: more than `patience` validated epochs in a row without beating the best
    ELBO by `threshold` nats multiplies the rate by `factor` (not below `min_lr`)."""
    lr, best, bad = lr0, -math.inf, 0
    for v in elbos[:k]:
        if v is None:
            continue
        if v > best + threshold:
            best, bad = v, 0
        else:
            bad += 1
        if bad > patience:
            lr, bad = max(lr * factor, min_lr), 0
    return lr


@functools.cache
def _burda_rates(lr0):
    """Burda et al.'s table written out: 3**i epochs at lr0 * 10**(-i/7), i = 0..7."""
    return [lr0 * 10 ** (-i / 7) for i in range(8) for _ in range(3**i)]


def _burda2016(k, lr0, elbos):
    rates = _burda_rates(lr0)
    return rates[min(k, len(rates) - 1)]


#: name -> (options, rate after k epochs as a function of (k, initial rate, ELBOs so far))
REFERENCES = {
    "none": ({}, _none),
    "step": ({"step_size": 3, "gamma": 0.5}, _step),
    "multistep": ({"milestones": [2, 5, 9], "gamma": 0.3}, _multistep),
    "exponential": ({"gamma": 0.8}, _exponential),
    "cosine": ({"t_max": 8, "eta_min": 1e-3}, _cosine),
    "plateau": (
        {"factor": 0.5, "patience": 1, "threshold": 0.01, "min_lr": 0.015},
        _plateau,
    ),
    "burda2016": ({}, _burda2016),
}


def make(name, options=None, lrs=LRS):
    a, b = nn.Linear(2, 2), nn.Linear(2, 1)
    optimizer = torch.optim.SGD(
        [{"params": a.parameters(), "lr": lrs[0]}, {"params": b.parameters(), "lr": lrs[1]}],
        lr=lrs[0],
    )
    options = REFERENCES[name][0] if options is None else options
    return optimizer, SCHEDULERS.resolve({"name": name, **options}, {"optimizer": optimizer})


def run(optimizer, scheduler, elbos):
    """Step through epochs (an optimizer step, then the scheduler's); return the rates after."""
    rates = []
    for v in elbos:
        optimizer.step()  # no gradients: changes nothing, but keeps torch's call order
        scheduler.step(v)
        rates.append(scheduler.lrs)
    return rates


def test_every_scheduler_has_a_reference():
    for name in SCHEDULERS.names():
        assert name in REFERENCES, f"add a hand-written rate formula for scheduler '{name}'"


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_rates_follow_the_reference(name):
    optimizer, scheduler = make(name)
    reference = REFERENCES[name][1]
    assert scheduler.lrs == list(LRS)
    for k, lrs in enumerate(run(optimizer, scheduler, ELBOS), start=1):
        expected = [reference(k, lr0, ELBOS) for lr0 in LRS]
        assert lrs == pytest.approx(expected, rel=1e-12, abs=0), f"epoch {k}"
    assert scheduler.epoch == EPOCHS
    assert scheduler.lr == lrs[0] == optimizer.param_groups[0]["lr"]


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_the_schedule_changes_the_rate_unless_constant(name):
    """Guards the battery itself: each case's options make its schedule move in 12 epochs."""
    optimizer, scheduler = make(name)
    changed = {lrs[0] for lrs in run(optimizer, scheduler, ELBOS)} != {LRS[0]}
    assert changed == (name != "none")


@pytest.mark.parametrize("load_optimizer", [True, False], ids=["with-optimizer", "alone"])
@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_state_dict_round_trip_continues_bit_for_bit(name, load_optimizer):
    half = 5
    optimizer, scheduler = make(name)
    whole = run(optimizer, scheduler, ELBOS)

    optimizer, scheduler = make(name)
    first = run(optimizer, scheduler, ELBOS[:half])
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)

    optimizer, scheduler = make(name)  # a resumed run builds both afresh, then loads
    if load_optimizer:
        optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    assert scheduler.epoch == half and scheduler.lrs == first[-1]
    assert first + run(optimizer, scheduler, ELBOS[half:]) == whole


def test_loading_another_schedule_is_refused():
    _, step = make("step")
    _, cosine = make("cosine")
    with pytest.raises(CheckpointError, match="schedule"):
        cosine.load_state_dict(step.state_dict())


def test_burda2016_stage_boundaries():
    """Stage i lasts 3**i epochs, so the rate changes after epochs 1, 4, 13, 40, 121, 364, 1093
    and 3280 (sums of 1, 3, 9, 27, ...), each time by 10**(-1/7), and stays after 3280."""
    lr0 = 1e-3
    optimizer, scheduler = make("burda2016", lrs=(lr0, lr0))
    rates = [scheduler.lr] + [lrs[0] for lrs in run(optimizer, scheduler, [None] * 3290)]
    starts = [(3**i - 1) // 2 for i in range(8)]
    assert starts == [0, 1, 4, 13, 40, 121, 364, 1093]
    for i, start in enumerate(starts):
        length = 3**i
        stage = rates[start : start + length]
        assert stage == [lr0 * 10 ** (-i / 7)] * length, f"stage {i}"
    assert rates[3279] == rates[3280] == rates[3290] == lr0 * 10 ** (-7 / 7)


def test_plateau_waits_patience_epochs_and_ignores_missing_validation():
    optimizer, scheduler = make("plateau", {"factor": 0.1, "patience": 2, "threshold": 0.0})
    elbos = [-50.0, -50.0, None, None, -60.0, None, -50.0]
    rates = [lrs[0] for lrs in run(optimizer, scheduler, elbos)]
    # epoch 1 sets the best; epochs 2 and 5 are bad but within patience; None epochs do not
    # count; epoch 7 is the third bad validation in a row: the rate drops after it
    assert rates == [0.1] * 6 + [pytest.approx(0.01, rel=1e-12)]


def test_plateau_counts_a_gain_below_threshold_as_no_improvement():
    optimizer, scheduler = make("plateau", {"factor": 0.5, "patience": 0, "threshold": 0.5})
    rates = [lrs[0] for lrs in run(optimizer, scheduler, [-10.0, -9.6, -9.0])]
    assert rates == [0.1, 0.05, 0.05]  # -9.6 gains 0.4 < 0.5; -9.0 gains 1.0 over -10


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("step", {"step_size": 0}, "step_size must be an integer ≥ 1"),
        ("step", {"step_size": 2.5}, "step_size must be an integer"),
        ("step", {"step_size": 2, "gamma": 1.5}, r"gamma must be a number in \(0, 1\]"),
        ("step", {"step_size": 2, "gamma": 0}, r"gamma must be a number in \(0, 1\]"),
        ("exponential", {"gamma": -0.5}, "gamma"),
        ("exponential", {"gamma": "0.9"}, "gamma"),
        ("multistep", {"milestones": [5, 3]}, "strictly increasing"),
        ("multistep", {"milestones": [3, 3]}, "strictly increasing"),
        ("multistep", {"milestones": []}, "non-empty"),
        ("multistep", {"milestones": 5}, "list of epochs"),
        ("multistep", {"milestones": [0, 4]}, "milestone must be an integer ≥ 1"),
        ("cosine", {"t_max": 0}, "t_max"),
        ("cosine", {"t_max": 10, "eta_min": -1.0}, "eta_min must be a number ≥ 0"),
        ("plateau", {"factor": 1.0}, r"factor must be a number in \(0, 1\)"),
        ("plateau", {"patience": -1}, "patience must be an integer ≥ 0"),
        ("plateau", {"threshold": -0.1}, "threshold"),
        ("plateau", {"min_lr": float("nan")}, "min_lr"),
    ],
)
def test_bad_options_are_one_line_config_errors(name, options, message):
    with pytest.raises(ConfigError, match=message) as error:
        make(name, options)
    text = str(error.value)
    assert "\n" not in text and text.startswith(f"scheduler '{name}': ")


def test_required_options_are_named():
    with pytest.raises(ConfigError, match="needs the option 'step_size'"):
        SCHEDULERS.check_options("step", {})
    with pytest.raises(ConfigError, match="did you mean 'gamma'"):
        SCHEDULERS.check_options("exponential", {"gama": 0.9})


def test_every_scheduler_has_a_one_line_description():
    for name, line in SCHEDULERS.describe().items():
        assert line and not line.endswith(":"), name
