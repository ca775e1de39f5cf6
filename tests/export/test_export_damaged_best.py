"""``export`` when the best checkpoint is damaged: the next best is
exported, with a warning naming the damaged file and the checkpoint taken
instead (it stopped with an error, where training skips such a
checkpoint)."""

import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.checkpoints import Checkpointer
from tiny_recipe import MODEL_YAML, TINY, run_main, write_tiny_recipe_output

from speechbrain_galr.export.hub import MODULE_NAMES, list_checkpoints


def _recipe_with_two_checkpoints(folder):
    """A run whose checkpoints scored 3.0 (tiny_recipe) and 5.0 dB."""
    folder.mkdir()
    write_tiny_recipe_output(folder)
    with open(MODEL_YAML) as fin:
        hparams = load_hyperpyyaml(fin, TINY)
    torch.manual_seed(1)
    modules = {name: hparams[name] for name in MODULE_NAMES}
    Checkpointer(str(folder / "save"), modules).save_checkpoint(
        meta={"si-snr": 5.0}
    )
    checkpoints = list_checkpoints(str(folder / "save"))
    return sorted(checkpoints, key=lambda c: -c.meta["si-snr"])  # best first


def test_damaged_best_checkpoint_falls_back_to_the_next(tmp_path, caplog):
    best, second = _recipe_with_two_checkpoints(tmp_path / "run")
    assert (best.meta["si-snr"], second.meta["si-snr"]) == (5.0, 3.0)
    damaged = best.path / "masknet.ckpt"
    damaged.write_bytes(damaged.read_bytes()[:200])  # truncated
    status, _, err = run_main(
        "export", str(tmp_path / "run"), "--out", str(tmp_path / "model")
    )
    assert status == 0, err
    warnings = [
        r.getMessage() for r in caplog.records if r.levelname == "WARNING"
    ]
    assert len(warnings) == 1, warnings
    assert str(damaged) in warnings[0]
    assert f"exporting the next best, {second.path.name}" in warnings[0]
    for name in MODULE_NAMES:  # the second best's weights were exported
        exported = (tmp_path / "model" / f"{name}.ckpt").read_bytes()
        assert exported == (second.path / f"{name}.ckpt").read_bytes()


def test_no_loadable_checkpoint_is_one_error_line(tmp_path):
    checkpoints = _recipe_with_two_checkpoints(tmp_path / "run")
    for checkpoint in checkpoints:
        (checkpoint.path / "encoder.ckpt").write_bytes(b"")
    status, _, err = run_main(
        "export", str(tmp_path / "run"), "--out", str(tmp_path / "model")
    )
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    best_file = checkpoints[0].path / "encoder.ckpt"
    assert lines[0].startswith(f"error: {best_file} is empty (0 bytes)")
    assert "none of the other 1 checkpoint(s)" in lines[0]
    assert not (tmp_path / "model").exists()
