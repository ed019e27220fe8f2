"""`cnnc train` and `cnnc eval` as a user runs them (the program beside
CNNC_LIBRARY): the progress output on a pipe and on a terminal, the CSV log and the
SVG plot, option errors, and resuming from a checkpoint in a fresh process, which
must end with the same checkpoint file, byte for byte, as the run that never
stopped (model, optimizer, scheduler, generator, counters)."""
import csv
import filecmp
import os
import pty
import subprocess
import xml.etree.ElementTree as ET

import pytest

LIB = os.environ.get("CNNC_LIBRARY", "")
CNNC = os.path.join(os.path.dirname(LIB), "cnnc")
pytestmark = pytest.mark.skipif(not os.path.exists(CNNC), reason="no cnnc program beside "
                                "CNNC_LIBRARY")

SMALL = ["--arch", "cnn-small", "--train-size", "96", "--test-size", "40", "--batch-size",
         "32", "--threads", "2"]


def run(*args, check=True):
    p = subprocess.run([CNNC, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        if "no safetensors" in p.stderr:
            pytest.skip("this build has no safetensors I/O (built without cJSON): " + p.stderr.strip())
        raise AssertionError("cnnc %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                          p.stderr))
    return p


def test_plain_lines_log_and_plot(tmp_path):
    log, svg = tmp_path / "run.csv", tmp_path / "run.svg"
    p = run("train", *SMALL, "--epochs", "2", "--optimizer", "adamw", "--schedule", "cosine",
            "--log", str(log), "--plot", str(svg))
    assert "\r" not in p.stdout and "\033" not in p.stdout  # not a terminal: plain lines
    assert "epoch 1/2 batch 3/3" in p.stdout and "test acc" in p.stdout
    rows = list(csv.DictReader(open(log)))
    assert [r["epoch"] for r in rows] == ["1", "2"] and [r["step"] for r in rows] == ["3", "6"]
    assert float(rows[0]["lr"]) == pytest.approx(1e-3)  # the lr the epoch trained with
    for r in rows:
        assert 0 <= float(r["test_acc"]) <= 1 and float(r["train_loss"]) > 0
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert len([e for e in root.iter() if e.tag.endswith("polyline")]) == 4
    # a resumed or repeated run appends to the log; the header is written once
    run("train", *SMALL, "--epochs", "1", "--log", str(log))
    assert open(log).read().count("epoch,step") == 1 and len(open(log).readlines()) == 4


def test_progress_bar_on_a_terminal():
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(CNNC, [CNNC, "train", *SMALL, "--epochs", "1"])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out.decode(errors="replace")
    text = out.decode()
    assert "\r  epoch 1/1 [" in text and "img/s" in text and "ETA" in text
    assert "batch 1/3" not in text  # the plain lines are for pipes


@pytest.mark.parametrize("args,code,message", [
    (["--bogus"], 2, "unknown option '--bogus'"),
    (["--epochs", "two"], 2, "--epochs expects a non-negative integer, got 'two'"),
    (["--lr"], 2, "--lr needs a value"),
    (["--plot", "x.svg"], 2, "--plot draws the curves of --log"),
    (["--arch", "vgg"], 1, "unknown architecture 'vgg'"),
    (["--optimizer", "lbfgs"], 1, "unknown --optimizer 'lbfgs'"),
    (["--schedule", "cyclic"], 1, "unknown --schedule 'cyclic'"),
    (["--schedule", "multistep"], 1, "needs --milestones"),
    (["--data", "imagenet:/x"], 1, "unknown --data 'imagenet:/x'"),
    (["--data", "mnist:/nonexistent"], 1, "/nonexistent"),
    (["--optimizer", "sgd", "--lr", "-1"], 1, "Invalid learning rate: -1"),
])
def test_option_errors(args, code, message):
    p = run("train", "--train-size", "16", "--test-size", "8", *args, check=False)
    assert p.returncode == code and message in p.stderr, p.stderr


def test_eval_needs_a_model():
    p = run("eval", check=False)
    assert p.returncode == 2 and "--checkpoint FILE" in p.stderr


@pytest.mark.parametrize("opt", [["--optimizer", "sgd", "--nesterov", "--schedule", "step",
                                  "--step-size", "1"],
                                 ["--optimizer", "adam", "--amsgrad", "--schedule", "onecycle"]])
def test_resume_in_a_fresh_process_is_bit_for_bit(tmp_path, opt):
    a, b, c = (str(tmp_path / n) for n in ("a.st", "b.st", "c.st"))
    args = ["train", *SMALL, "--epochs", "3", *opt]
    run(*args, "--checkpoint", a)                      # 9 steps straight
    run(*args, "--checkpoint", b, "--max-steps", "4")  # stops in the middle of epoch 2
    assert not filecmp.cmp(a, b, shallow=False)
    p = run(*args, "--checkpoint", c, "--resume", b)   # a new process goes on
    assert "resumed from" in p.stdout and "at epoch 2, batch 1 (step 4)" in p.stdout
    assert filecmp.cmp(a, c, shallow=False)
    # resuming with other options is refused
    p = run("train", *SMALL, "--epochs", "3", "--optimizer", "rmsprop", "--resume", b,
            check=False)
    assert p.returncode == 1 and "was saved with optimizer" in p.stderr
    # and the checkpoint evaluates
    p = run("eval", "--arch", "cnn-small", "--train-size", "96", "--test-size", "40",
            "--checkpoint", a)
    assert "40 test images of synthetic" in p.stdout and "accuracy" in p.stdout


def test_model_file_trains_and_evaluates(tmp_path):
    """--model: a network exported from PyTorch (cnnc.export) trains, and `cnnc eval`
    of its checkpoint reports the test accuracy the last epoch reported."""
    import re

    import torch
    import torch.nn as tnn

    from cnnc.export import export
    model, ck = str(tmp_path / "net.safetensors"), str(tmp_path / "net.ckpt")
    net = tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(),
                         tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(4 * 14 * 14, 10))
    export(net, torch.randn(1, 1, 28, 28), model)
    data = ["--train-size", "96", "--test-size", "40"]
    p = run("train", "--model", model, *data, "--epochs", "1", "--checkpoint", ck)
    assert "(%d parameters)" % sum(t.numel() for t in net.parameters()) in p.stdout
    trained = re.search(r"test acc (\d+\.\d+)%", p.stdout).group(1)
    p = run("eval", "--model", model, *data, "--checkpoint", ck)
    assert "accuracy %s%%" % trained in p.stdout
