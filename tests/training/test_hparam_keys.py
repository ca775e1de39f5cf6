"""A mistyped key in a recipe's yaml, or a mistyped option, is refused
with one line naming it and the closest known key (a key in the yaml used
to be silently ignored)."""

import glob
import os

import pytest

from speechbrain_galr.training.hparam_keys import check_yaml_keys
from speechbrain_galr.training.options import RecipeError
from speechbrain_galr.training.recipe import main

ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
RECIPE_YAML = os.path.join(
    ROOT, "recipes", "WSJ0Mix", "separation", "hparams", "galr-small.yaml"
)


def _never_called(hparams):
    raise AssertionError("the recipe went past the option checks")


def _error_line(stderr):
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr
    assert lines[-1].startswith("error: "), stderr[-2000:]
    return lines[-1]


@pytest.mark.parametrize(
    "path", sorted(glob.glob(f"{ROOT}/recipes/*/separation/hparams/*.yaml"))
)
def test_shipped_recipe_yamls_have_no_unknown_key(path):
    check_yaml_keys(path)


def test_mistyped_yaml_key_is_refused(tmp_path, capsys):
    with open(RECIPE_YAML) as f:
        text = f.read()
    assert "\nmax_train_minutes: null" in text
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        text.replace("\nmax_train_minutes: null", "\nmax_train_minute: 0.05")
    )
    out = tmp_path / "run"
    argv = [str(typo), "--data_folder", str(tmp_path), "--output_folder",
            str(out)]  # fmt: skip
    with pytest.raises(SystemExit) as stop:
        main(_never_called, _never_called, argv=argv)
    assert stop.value.code == 2
    assert _error_line(capsys.readouterr().err) == (
        f"error: unknown key 'max_train_minute' in {typo} (did you mean "
        "max_train_minutes?): no code reads it and no other key refers to it"
    )
    assert not out.exists()
    # a key that a custom recipe's code reads is given as known
    (tmp_path / "custom.yaml").write_text("num_spks: 2\nmy_option: 3\n")
    with pytest.raises(RecipeError, match="unknown key 'my_option'"):
        check_yaml_keys(str(tmp_path / "custom.yaml"))
    check_yaml_keys(str(tmp_path / "custom.yaml"), ["my_option"])


def test_mistyped_option_names_the_close_key(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [RECIPE_YAML, "--data_folder", str(tmp_path), "--output_folder",
            str(out), "--max_train_minute", "0.05"]  # fmt: skip
    with pytest.raises(SystemExit) as stop:
        main(_never_called, _never_called, argv=argv)
    assert stop.value.code == 2
    assert _error_line(capsys.readouterr().err) == (
        f"error: unknown option --max_train_minute: {RECIPE_YAML} has no "
        "such key (did you mean max_train_minutes?)"
    )
    assert not out.exists()
