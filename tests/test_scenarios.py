"""Scenario files and fixes: loading, broken files, pure fixes in canonical order."""

from __future__ import annotations

import pytest

from core.schema.config import RunConfig
from core.schema.fixes import FIXES, apply_fixes
from core.schema.scenario import BUILTIN_DIR, ScenarioError, discover, find_scenario, load_scenario_file


def test_builtin_scenarios_all_load():
    results = discover(BUILTIN_DIR)
    names = [r.scenario.name for r in results if r.scenario]
    assert not [r.error for r in results if r.error]
    assert {"baseline", "fail1", "fail2", "fail3", "fail4", "fail5"} <= set(names)
    assert len(names) >= 9  # baseline, the five classics and at least three more


def test_classic_settings_are_faithful():
    fail1, fail2, fail3, fail4, fail5 = (find_scenario(f"fail{i}").config for i in range(1, 6))
    assert (fail1.hidden_layers, fail1.activation, fail1.init) == (8, "relu", "uniform(-0.4,0.4)")
    assert (fail2.hidden_layers, fail2.activation, fail2.init) == (8, "sigmoid", "uniform(-0.1,0.1)")
    assert (fail3.hidden_layers, fail3.init) == (2, "uniform(-0.1,0)")
    assert fail4.input_noise_std == 4.0 and fail5.softmax_before_loss
    for config in (fail1, fail2, fail3, fail4, fail5):
        assert (config.hidden_units, config.optimizer, config.learning_rate, config.batch_size, config.steps) == (100, "sgd", 0.1, 128, 2000)
        assert config.bias_init == 0.0 and config.normalization == "unit"


def test_broken_and_empty_scripts_are_reported_by_name_and_the_rest_still_load(tmp_path):
    (tmp_path / "broken.py").write_text("import no_such_module_anywhere\n")
    (tmp_path / "empty.py").write_text("x = 1\n")
    (tmp_path / "good.py").write_text((BUILTIN_DIR / "fail3.py").read_text())
    results = {r.path.name: r for r in discover(tmp_path)}
    assert "broken.py" in results["broken.py"].error and "ModuleNotFoundError" in results["broken.py"].error
    assert "defines no SCENARIO" in results["empty.py"].error
    assert results["good.py"].scenario.name == "fail3"
    with pytest.raises(ScenarioError, match="broken.py"):
        load_scenario_file(tmp_path / "broken.py")


def test_unknown_scenario_name_lists_the_known_ones():
    with pytest.raises(ScenarioError, match="known: .*fail1"):
        find_scenario("fail99")


def test_fixes_are_pure_and_applied_in_canonical_order():
    fail2 = find_scenario("fail2").config
    fixed = apply_fixes(fail2, ["init", "activation"])
    assert (fixed.activation, fixed.init) == ("relu", "he")  # init saw the new activation
    assert apply_fixes(fail2, ["activation", "init"]) == fixed
    assert fail2.activation == "sigmoid"  # unchanged: configs are frozen
    assert apply_fixes(RunConfig(activation="tanh"), ["init"]).init == "glorot"
    assert apply_fixes(RunConfig(learning_rate=0.1), ["lr_down"]).learning_rate == pytest.approx(0.01)
    with pytest.raises(ValueError, match="unknown fix"):
        apply_fixes(fail2, ["nonsense"])


def test_every_fix_has_a_distinct_key_and_a_reason():
    keys = [fix.key for fix in FIXES.values()]
    assert len(set(keys)) == len(keys)
    assert all(len(fix.reason) > 20 for fix in FIXES.values())


def test_every_scenario_expects_known_fixes_that_change_its_config():
    for result in discover(BUILTIN_DIR):
        scenario = result.scenario
        if scenario.expected_fixes:
            assert apply_fixes(scenario.config, scenario.expected_fixes) != scenario.config, scenario.name


@pytest.mark.parametrize("bad", ["uniform(0.1,-0.1)", "gaussian", "normal()"])
def test_bad_initializer_specs_are_rejected(bad):
    with pytest.raises(ValueError, match="bad initializer"):
        RunConfig(init=bad)
