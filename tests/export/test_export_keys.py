"""``export --max-key/--min-key``: a key that the checkpoints do not hold,
or both options at once, are one-line errors (they used to be accepted
silently: the newest checkpoint was exported, or --max-key ignored)."""

import pytest
from tiny_recipe import run_main, write_tiny_recipe_output


@pytest.fixture()
def recipe_output(tmp_path):
    (tmp_path / "run").mkdir()
    return write_tiny_recipe_output(tmp_path / "run")


def test_a_key_the_checkpoints_do_not_hold(recipe_output, tmp_path):
    out = tmp_path / "model"
    status, _, err = run_main("export", str(recipe_output), "--out",
                              str(out), "--max-key", "si_snr")  # fmt: skip
    assert status == 1
    assert err == (
        f"error: no checkpoint in {recipe_output / 'save'} holds the meta "
        "key 'si_snr' (they hold: si-snr); did you mean si-snr?\n"
    )
    assert not out.exists()


def test_max_and_min_key_together(recipe_output, tmp_path):
    out = tmp_path / "model"
    status, _, err = run_main(
        "export", str(recipe_output), "--out", str(out),
        "--max-key", "si-snr", "--min-key", "si-snr",
    )  # fmt: skip
    assert status == 1
    assert err == (
        "error: give a key to maximise or one to minimise, not both (max "
        "'si-snr', min 'si-snr')\n"
    )
    assert not out.exists()


def test_a_key_the_checkpoints_hold(recipe_output, tmp_path):
    status, _, err = run_main("export", str(recipe_output), "--out",
                              str(tmp_path / "model"), "--min-key",
                              "si-snr")  # fmt: skip
    assert status == 0, err
    assert (tmp_path / "model" / "masknet.ckpt").is_file()
