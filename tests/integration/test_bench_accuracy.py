"""`lightning-meta bench accuracy` end to end on a tiny suite: outputs, and identical numbers on
a re-run with the same seed (the reproducibility promise of the benchmark)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lightning_meta.bench.suite.demo import tiny_suite, write_demo_csv
from lightning_meta.cli import main
from lightning_meta.evaluation.tables import read_csv

OUTPUTS = ("results.csv", "results.md", "results.png", "episodes.csv", "config.yaml",
           "environment.json", "timings.json")  # fmt: skip


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    data = tiny_suite(write_demo_csv(tmp_path / "demo.csv"), episodes=3, train_steps=2)
    data["methods"].append({
        "name": "SMLMT export", "requires": str(tmp_path / "no-export"),
        "model": {"class_path": "lightning_meta.lightning.FineTune", "init_args": {"encoder": {"backbone": "tiny"}}},
    })  # fmt: skip
    data["baseline"] = "FineTune"
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run(suite: Path, out: Path, *extra: str) -> None:
    # one thread: tiny ops on a shared 2-core machine are otherwise dominated by OpenMP waits
    assert (
        main(
            [
                "bench",
                "accuracy",
                "--suite",
                str(suite),
                "--out",
                str(out),
                "--threads",
                "1",
                *extra,
            ]
        )
        == 0
    )


def test_same_seed_gives_identical_results(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(suite, tmp_path / "a")
    log = capsys.readouterr().out
    run(suite, tmp_path / "b")
    a, b = tmp_path / "a", tmp_path / "b"
    for name in ("results.csv", "episodes.csv", "config.yaml"):  # results.md quotes --out
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for name in OUTPUTS:
        assert (a / name).is_file(), name

    rows = read_csv(a / "results.csv")
    methods = ["MAML", "first-order MAML", "Reptile", "ProtoNet", "FineTune", "frozen + centroid"]
    assert [r.method for r in rows] == [m for m in methods for _ in range(2)]
    assert all(r.acc.n == 3 and 0 <= r.acc.mean <= 1 for r in rows)
    # identical episodes for every method: per-episode rows line up
    episodes = (a / "episodes.csv").read_text().splitlines()
    assert len(episodes) == 1 + 6 * 2 * 3

    md = (a / "results.md").read_text()
    assert "SMLMT export: skipped" in md and "**" in md and "seed 0" in md
    # paired table: MAML - FineTune per episode, recomputed here from episodes.csv
    per: dict[tuple[str, str], list[float]] = {}
    for line in episodes[1:]:
        m, t, _, acc, _ = line.split(",")
        per.setdefault((m, t), []).append(float(acc))
    target = rows[0].target
    diff = [x - y for x, y in zip(per["MAML", target], per["FineTune", target], strict=True)]
    assert "Paired difference to `FineTune`" in md
    maml_line = next(x for x in md.splitlines() if x.startswith("| MAML |") and "±" in x
                     and x.split("|")[2].strip()[0] in "+-")  # fmt: skip
    assert maml_line.split("|")[2].strip().startswith(f"{100 * sum(diff) / len(diff):+.2f} ± ")
    env = json.loads((a / "environment.json").read_text())
    assert (
        env["packages"]["torch"]
        and env["device"]["type"] == "cpu"
        and env["cpu"]["torch_threads"] == 1
    )
    assert "commit" in env["git"]
    cfg = yaml.safe_load((a / "config.yaml").read_text())
    assert cfg["methods"][0]["model"]["init_args"]["inner"]["lr"] == 0.01  # defaults resolved
    assert cfg["methods"][-1]["skipped"].endswith("not found")
    assert "[1/12] MAML x held-out classes 3-way 1-shot" in log and "meta-trained 2 steps" in log


def test_a_row_does_not_depend_on_the_other_methods(suite: Path, tmp_path: Path) -> None:
    run(suite, tmp_path / "all")
    run(suite, tmp_path / "two", "--methods", "Reptile", "FineTune")
    full = {(r.method, r.target): r for r in read_csv(tmp_path / "all" / "results.csv")}
    part = read_csv(tmp_path / "two" / "results.csv")
    assert [r.method for r in part] == ["Reptile"] * 2 + ["FineTune"] * 2
    assert all(full[r.method, r.target] == r for r in part)


def test_quick_and_dry_run(suite: Path, tmp_path: Path) -> None:
    run(suite, tmp_path / "dry", "--dry-run", "--quick")
    assert (tmp_path / "dry" / "config.yaml").is_file() and not (
        tmp_path / "dry" / "results.csv"
    ).exists()
    assert yaml.safe_load((tmp_path / "dry" / "config.yaml").read_text())["episodes"] == 2


def test_bad_suite_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**tiny_suite("x.csv"), "episodes": -1}))
    assert main(["bench", "accuracy", "--suite", str(path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == "error: suite.episodes: must be positive (got -1)"
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(tiny_suite("x.csv")))
    assert main(["bench", "accuracy", "--suite", str(good), "--methods", "Nope"]) == 2
    assert "error: methods: unknown method 'Nope'" in capsys.readouterr().err
