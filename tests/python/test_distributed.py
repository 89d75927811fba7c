"""Data-parallel training from Python: two processes calling fregan.train, one with arguments and
one through the launcher's environment, train as one process would, and a stop requested by one
rank's callback stops both."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fregan
from fregan import _core

pytestmark = pytest.mark.skipif(not _core.distributed_available(), reason="fregan built without c10d/Gloo")

# fregan-flow and a one-level discriminator: no BatchNorm, so two ranks reproduce one process.
OPTIONS = dict(model="fregan-flow", steps=5, batch_size=4, crop=32, val_fraction=0, workers=1, threads=1, seed=3,
               device="cpu", log_every=1, loss={"adversarial": 0.01},
               generator_options={"base_channels": 8, "levels": 2},
               discriminator_options={"base_channels": 8, "levels": 1})

RANK_SCRIPT = """
import json, sys
import fregan
data, out, options, stop_after = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
fregan.train(data, out, callback=lambda p: p["step"] < stop_after, **options)
"""


def start_rank(clip_folder, out, options, stop_after, env=None):
    return subprocess.Popen([sys.executable, "-c", RANK_SCRIPT, str(clip_folder), str(out), json.dumps(options),
                             str(stop_after)], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_ranks_from_python_train_as_one_process_and_stop_together(clip_folder, tmp_path):
    port = 21000 + os.getpid() % 4000
    by_arguments = start_rank(clip_folder, tmp_path / "two", dict(OPTIONS, world_size=2, rank=0, master_port=port), 99)
    # Rank 1 learns its place from the environment, as under torchrun, and asks to stop after step 3.
    by_environment = start_rank(clip_folder, tmp_path / "two", OPTIONS, 3,
                                env={"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "127.0.0.1",
                                     "MASTER_PORT": str(port)})
    for p in (by_arguments, by_environment):
        output, _ = p.communicate(timeout=180)
        assert p.returncode == 0, output
    assert fregan.checkpoint_info(tmp_path / "two" / "last.pt")["step"] == 3  # rank 1's stop stopped rank 0
    log_steps = [json.loads(line)["step"] for line in (tmp_path / "two" / "log.jsonl").read_text().splitlines()]
    assert log_steps == [1, 2, 3]  # written once, by rank 0

    fregan.set_log_level(2)
    fregan.train(clip_folder, tmp_path / "one", **dict(OPTIONS, steps=3))
    fregan.set_log_level(1)
    a = fregan.read_image(clip_folder / "000.png")
    b = fregan.read_image(clip_folder / "002.png")
    mid_two = fregan.Interpolator(tmp_path / "two" / "last.pt", device="cpu")(a, b).astype(int)
    mid_one = fregan.Interpolator(tmp_path / "one" / "last.pt", device="cpu")(a, b).astype(int)
    assert np.abs(mid_two - mid_one).max() <= 1


def test_world_size_without_a_rank_is_refused(clip_folder, tmp_path, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(ValueError, match="needs this process's rank"):
        fregan.train(clip_folder, tmp_path / "run", **dict(OPTIONS, world_size=2))
