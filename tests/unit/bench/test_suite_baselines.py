"""Baseline rows of the accuracy suite (logistic regression, SetFit, VADER): built from YAML,
one-line errors, scored on the same fixed episodes as every other row, never meta-trained,
and paired with the other rows on the episodes both scored (checked by hand)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from lightning_meta.algorithms.types import TaskOutput
from lightning_meta.bench.suite import runner
from lightning_meta.bench.suite.accuracy import run_accuracy
from lightning_meta.bench.suite.baselines import row_label
from lightning_meta.bench.suite.demo import tiny_suite, write_demo_csv
from lightning_meta.bench.suite.methods import build_method, meta_train
from lightning_meta.bench.suite.paired import paired_differences, render_paired
from lightning_meta.bench.suite.runner import resolve
from lightning_meta.bench.suite.spec import load_suite
from lightning_meta.data.episode import Episode
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation import baselines
from lightning_meta.evaluation.baselines.text import output_from_logits
from lightning_meta.evaluation.episodes import fixed_episodes
from lightning_meta.evaluation.scoring import score_module

BENCH = Path(__file__).resolve().parents[3] / "configs" / "bench"
TINY_PROTONET = {"class_path": "lightning_meta.lightning.ProtoNet",
                 "init_args": {"distance": "cosine", "encoder": {"backbone": "tiny"}}}  # fmt: skip
SENTIMENT = "sentiment 2-way 2-shot"
TOPICS = "held-out classes 3-way 1-shot"


def write_sentiment_csv(path: Path, per_class: int = 30) -> Path:
    """A ``text,label`` CSV labelled negative/positive: what VADER recognises as sentiment."""
    good, bad = ["good", "great", "wonderful", "lovely"], ["bad", "awful", "terrible", "boring"]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["text", "label"])
        for i in range(per_class):
            w.writerow([f"a {good[i % 4]} film number {i}", "positive"])
            w.writerow([f"a {bad[i % 4]} film number {i}", "negative"])
    return path


def baseline_rows() -> list[dict[str, Any]]:
    return [
        {"name": "frozen + LR", "model": TINY_PROTONET, "baseline": {"kind": "logreg", "C": 0.5}},
        {"name": "ProtoNet + LR", "baseline": {"kind": "logreg", "embeddings_of": "ProtoNet"}},
        {"name": "SetFit", "baseline": {"kind": "setfit", "episodes": 2}},
        {"name": "VADER", "baseline": {"kind": "vader"}},
        {"name": "ProtoNet + SetFit",
         "baseline": {"kind": "setfit", "embeddings_of": "ProtoNet", "episodes": 2}},
    ]  # fmt: skip


def suite_data(tmp_path: Path) -> dict[str, Any]:
    data = tiny_suite(write_demo_csv(tmp_path / "demo.csv"), episodes=3, train_steps=2)
    keep = ("ProtoNet", "FineTune")
    data["methods"] = [m for m in data["methods"] if m["name"] in keep] + baseline_rows()
    data["targets"][1] = {
        "name": SENTIMENT,
        "data": {"source": str(write_sentiment_csv(tmp_path / "sent.csv")), "split_mode": "examples",
                 "tokens": {"max_length": 16}, "shape": {"n_way": 2, "k_shot": 2, "q_query": 2}},
    }  # fmt: skip
    data["baseline"] = ["FineTune", "SetFit"]
    return data


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class FakeSetFit:
    """Stands in for SetFitBaseline: records what it was built with and the episodes it saw;
    predicts label 0 everywhere."""

    made: list[FakeSetFit] = []

    def __init__(self, body: str = "minilm", tokenizer: str = "minilm", **kwargs: Any) -> None:
        self.body, self.tokenizer, self.kwargs = body, tokenizer, kwargs
        self.seen: list[int] = []
        self.weights: dict[str, torch.Tensor] = {}  # a body directory's, read while it exists
        if Path(body).is_dir():
            from safetensors.torch import load_file

            assert (Path(body) / "modules.json").exists()  # a sentence-transformers stack
            self.weights = load_file(str(Path(body) / "model.safetensors"))
        FakeSetFit.made.append(self)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def eval(self) -> FakeSetFit:
        return self

    def evaluate_episode(self, episode: Episode) -> TaskOutput:
        self.seen.append(episode.index)
        logits = torch.zeros(len(episode.query), episode.n_way)
        logits[:, 0] = 1.0
        return output_from_logits(logits, episode.query.labels)


class SpyHead(baselines.LogisticRegressionHead):
    """The real head, remembering every instance (to check which encoder it embeds with)."""

    made: list[SpyHead] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        SpyHead.made.append(self)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_each_kind_is_built_from_yaml(tmp_path: Path) -> None:
    spec = load_suite(write(tmp_path, suite_data(tmp_path)))
    by = {m.name: m for m in spec.methods}
    lr, on, sf, vd = (by[n].baseline for n in ("frozen + LR", "ProtoNet + LR", "SetFit", "VADER"))
    assert lr is not None and (lr.kind, lr.c, lr.embeddings_of) == ("logreg", 0.5, None)
    assert on is not None and (on.kind, on.c, on.embeddings_of) == ("logreg", 1.0, "ProtoNet")
    assert sf is not None and (sf.kind, sf.body_name, sf.episodes) == ("setfit", "minilm", 2)
    assert vd is not None and vd.kind == "vader" and by["VADER"].model is None
    resolved = resolve(spec)
    assert set(resolved.models) == {"ProtoNet", "FineTune", "frozen + LR"}  # built from a model
    assert set(resolved.train) == {"ProtoNet"}  # the only method that is meta-trained
    rows = {m["name"]: m for m in resolved.as_dict()["methods"]}
    assert rows["SetFit"]["model"] is None
    assert rows["SetFit"]["baseline"] == {
        "kind": "setfit", "body": "minilm", "embeddings_of": None, "episodes": 2,
    }  # fmt: skip
    assert rows["ProtoNet + SetFit"]["baseline"] == {
        "kind": "setfit", "body": None, "embeddings_of": "ProtoNet", "episodes": 2,
    }  # fmt: skip
    assert rows["ProtoNet + LR"]["baseline"] == {
        "kind": "logreg", "C": 1.0, "embeddings_of": "ProtoNet", "episodes": None,
    }  # fmt: skip
    assert rows["VADER"]["baseline"] == {"kind": "vader", "episodes": None}
    assert resolved.as_dict()["baseline"] == ["FineTune", "SetFit"]


def test_default_suite_has_every_baseline() -> None:
    spec = load_suite(BENCH / "default.yaml")
    by = {m.baseline.kind if m.baseline else None: m for m in spec.methods}
    assert {"logreg", "setfit", "vader"} <= set(by)
    setfit = by["setfit"].baseline
    assert setfit is not None and setfit.episodes is not None and setfit.episodes <= 5
    quick = {m.name: m.baseline for m in load_suite(BENCH / "default.yaml", quick=True).methods}
    assert quick[by["setfit"].name].episodes == 1  # type: ignore[union-attr]
    on = [m.baseline.embeddings_of for m in spec.methods if m.baseline and m.baseline.embeddings_of]
    trained = {m.name: m.train_steps for m in spec.methods}
    assert on and all(trained[name] > 0 for name in on)
    assert all(m.train_steps == 0 for m in spec.methods if m.baseline is not None)
    assert set(spec.baselines) <= set(trained)


@pytest.mark.parametrize(
    ("index", "row", "message"),
    [
        (2, {"baseline": {"kind": "knn"}},
         "suite.methods[2].baseline.kind: unknown baseline kind 'knn' (known: logreg, setfit, vader)"),
        (2, {"baseline": {"kind": "logreg", "C": 0.0}}, "suite.methods[2].baseline.C: must be > 0 (got 0.0)"),
        (2, {"baseline": {"kind": "logreg", "C": -1}}, "suite.methods[2].baseline.C: must be > 0"),
        (5, {"baseline": {"kind": "vader", "C": 1.0}},
         "suite.methods[5].baseline.C: only for kind logreg (this baseline is vader)"),
        (2, {"baseline": {"kind": "logreg", "body": "minilm"}},
         "suite.methods[2].baseline.body: only for kind setfit"),
        (4, {"baseline": {"kind": "setfit", "episodes": 0}},
         "suite.methods[4].baseline.episodes: must be positive or null (got 0)"),
        (4, {"train_steps": 3}, "suite.methods[4].train_steps: a setfit baseline is not meta-trained; set 0"),
        (2, {"train_steps": 3}, "suite.methods[2].train_steps: a logreg baseline is not meta-trained"),
        (5, {"optimizer": {"class_path": "torch.optim.SGD"}},
         "suite.methods[5].optimizer: a vader baseline is not meta-trained; remove it"),
        (4, {"model": TINY_PROTONET}, "suite.methods[4].model: a setfit baseline has no model; remove it"),
        (3, {"model": TINY_PROTONET}, "suite.methods[3].model: a logreg baseline on embeddings_of"),
        (2, {"model": None}, "suite.methods[2].model: missing (a logreg baseline needs the encoder"),
        (3, {"baseline": {"kind": "logreg", "embeddings_of": "Nope"}},
         "suite.methods[3].baseline.embeddings_of: 'Nope' is not an earlier method (earlier: ProtoNet, FineTune)"),
        (3, {"baseline": {"kind": "logreg", "embeddings_of": "VADER"}},
         "suite.methods[3].baseline.embeddings_of: 'VADER' is not an earlier method"),
        (3, {"baseline": {"kind": "logreg", "embeddings_of": "frozen + LR"}},
         "suite.methods[3].baseline.embeddings_of: 'frozen + LR' is a baseline"),
        (2, {"baseline": {"kind": "logreg", "C": "big"}},
         "suite.methods[2].baseline.C: expected"),
        (0, {"model": None}, "suite.methods[0].model: missing (required unless the method is a baseline)"),
        (5, {"baseline": {"kind": "vader", "embeddings_of": "ProtoNet"}},
         "suite.methods[5].baseline.embeddings_of: only for kind logreg or setfit (this baseline is vader)"),
        (6, {"baseline": {"kind": "setfit", "embeddings_of": "ProtoNet", "body": "minilm"}},
         "suite.methods[6].baseline.body: a setfit baseline on embeddings_of starts from that method's encoder"),
        (6, {"baseline": {"kind": "setfit", "embeddings_of": "SetFit"}},
         "suite.methods[6].baseline.embeddings_of: 'SetFit' is a baseline"),
        (6, {"model": TINY_PROTONET}, "suite.methods[6].model: a setfit baseline has no model"),
    ],
)  # fmt: skip
def test_bad_baseline_fields_are_one_line_errors(
    tmp_path: Path, index: int, row: dict[str, Any], message: str
) -> None:
    data = suite_data(tmp_path)
    data["methods"][index] = {**data["methods"][index], **row}
    data["methods"][index] = {k: v for k, v in data["methods"][index].items() if v is not None}
    with pytest.raises(ConfigError) as err:
        resolve(load_suite(write(tmp_path, data)))
    assert "\n" not in str(err.value) and str(err.value).startswith(message), str(err.value)


def test_a_chosen_lr_row_brings_its_meta_trained_method(tmp_path: Path) -> None:
    data = suite_data(tmp_path)
    data["quick"] = {"methods": ["ProtoNet + LR", "VADER"]}
    spec = load_suite(write(tmp_path, data), quick=True)
    assert [m.name for m in spec.methods] == ["ProtoNet", "ProtoNet + LR", "VADER"]


def test_quick_caps_the_capped_baselines_only(tmp_path: Path) -> None:
    data = suite_data(tmp_path)
    data["methods"][4]["baseline"]["episodes"] = 5
    data["quick"] = {"capped_episodes": 1}
    by = {m.name: m.baseline for m in load_suite(write(tmp_path, data), quick=True).methods}
    assert by["SetFit"] is not None and by["SetFit"].episodes == 1
    assert by["VADER"] is not None and by["VADER"].episodes is None  # uncapped stays uncapped
    full = {m.name: m.baseline for m in load_suite(write(tmp_path, data)).methods}
    assert full["SetFit"] is not None and full["SetFit"].episodes == 5


def test_row_label_states_a_smaller_count() -> None:
    assert row_label("SetFit", 10, 10) == "SetFit"
    assert row_label("SetFit", 10, 40) == "SetFit [10 episodes]"
    assert row_label("SetFit", 1, 40) == "SetFit [1 episode]"


def test_paired_on_shared_episodes_by_hand() -> None:
    scores = {
        "base": {"t": {"acc": {0: 0.5, 1: 0.6, 2: 0.7}}, "u": {"acc": {0: 0.5}}},
        "full": {"t": {"acc": {0: 0.6, 1: 0.6, 2: 0.9}}},
        "capped": {"t": {"acc": {0: 0.7, 1: 0.9}}},  # scored on episodes 0 and 1 only
        "other": {"u": {"acc": {3: 0.9}}},  # shares no episode with the baseline on u
    }
    d = paired_differences(scores, "base")
    assert set(d) == {"full", "capped"}  # no shared episode: no cell, no row
    full, capped = d["full"]["t"]["acc"], d["capped"]["t"]["acc"]
    # full: differences 0.1, 0.0, 0.2 -> mean 0.1, sd 0.1, CI 1.96 * 0.1 / sqrt(3) = 0.1132
    assert (full.n, full.mean, full.ci) == (3, pytest.approx(0.1), pytest.approx(0.11316, abs=1e-5))
    # capped: differences 0.2, 0.3 -> mean 0.25, sd 0.0707, CI 1.96 * 0.0707 / sqrt(2) = 0.098
    assert (capped.n, capped.mean) == (2, pytest.approx(0.25))
    assert capped.ci == pytest.approx(1.96 * math.sqrt(0.005) / math.sqrt(2))
    table = render_paired(d, "base", ["t", "u"], ("acc",))
    assert "| full | +10.00 ± 11.32 |  |" in table
    assert "| capped | +25.00 ± 9.80 (n=2) |  |" in table


def test_baseline_rows_score_the_same_fixed_episodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeSetFit.made, SpyHead.made = [], []
    monkeypatch.setattr(baselines, "SetFitBaseline", FakeSetFit)
    monkeypatch.setattr(baselines, "LogisticRegressionHead", SpyHead)
    trained: list[str] = []
    real_meta_train = runner.meta_train

    def spy(module: Any, method: Any, *args: Any, **kwargs: Any) -> None:
        trained.append(method.name)
        real_meta_train(module, method, *args, **kwargs)

    monkeypatch.setattr(runner, "meta_train", spy)
    path = write(tmp_path, suite_data(tmp_path))
    out = tmp_path / "out"
    assert run_accuracy(str(path), str(out), ["test"], device="cpu", threads=1) == 0
    assert trained == ["ProtoNet"]  # no baseline is meta-trained

    resolved = resolve(load_suite(path))
    eps = {t: fixed_episodes(args, 3) for t, args in resolved.targets.items()}
    index = {t: [e.index for e in v] for t, v in eps.items()}
    rows: dict[tuple[str, str], dict[int, float]] = {}
    for r in csv.DictReader((out / "episodes.csv").open()):
        rows.setdefault((r["method"], r["target"]), {})[int(r["episode"])] = float(r["acc"])
    full = ["ProtoNet", "FineTune", "frozen + LR", "ProtoNet + LR"]
    for t in (TOPICS, SENTIMENT):
        for name in full:
            assert list(rows[name, t]) == index[t], (name, t)
        assert list(rows["SetFit [2 episodes]", t]) == index[t][:2]
        assert list(rows["ProtoNet + SetFit [2 episodes]", t]) == index[t][:2]
    assert list(rows["VADER", SENTIMENT]) == index[SENTIMENT]
    assert ("VADER", TOPICS) not in rows  # not a sentiment target

    # SetFit: built with the target's tokenizer, on the suite device, saw the capped episodes
    # ... and from ProtoNet's encoder after its meta-training (a directory, unit-length stack)
    plain, on_protonet = FakeSetFit.made
    assert (plain.body, plain.tokenizer, plain.kwargs) == ("minilm", "minilm", {"device": "cpu"})
    assert on_protonet.kwargs == {"device": "cpu", "normalize": True}
    assert not Path(on_protonet.body).exists()  # the temporary body directory is removed
    for f in FakeSetFit.made:
        assert f.seen == index[TOPICS][:2] + index[SENTIMENT][:2]

    # the LR rows and VADER give what their evaluators give on those same episodes
    spec = resolved.spec
    protonet = build_method(spec.methods[0], spec.seed, "m")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the run: bit-identical training
    try:
        meta_train(protonet, spec.methods[0], resolved.train["ProtoNet"], spec.seed, "cpu", "m")
    finally:
        torch.set_num_threads(threads)
    frozen = build_method(spec.methods[2], spec.seed, "m")
    protonet.eval(), frozen.eval()
    untrained = build_method(spec.methods[0], spec.seed, "m")
    # one head per LR row (shared by the targets): C from the YAML, embedding with the frozen
    # model / with ProtoNet's module after its meta-training
    assert [h.C for h in SpyHead.made] == [0.5, 1.0]
    frozen_enc, trained_enc = (h.embedder.__self__ for h in SpyHead.made)  # type: ignore[attr-defined]
    assert same_weights(frozen_enc, frozen.model)
    assert same_weights(trained_enc, protonet.model)
    assert not same_weights(trained_enc, untrained.model)
    trained_state = protonet.model.encoder.state_dict()
    assert on_protonet.weights.keys() == trained_state.keys()
    assert all(torch.equal(on_protonet.weights[k], v) for k, v in trained_state.items())
    assert not all(  # not the untrained encoder's
        torch.equal(on_protonet.weights[k], v)
        for k, v in untrained.model.encoder.state_dict().items()
    )
    for t, v in eps.items():
        on = score_module(SpyHead(protonet.model.embed), v, progress=False)
        assert [s.acc for s in on] == list(rows["ProtoNet + LR", t].values())
        head = SpyHead(frozen.model.embed, C=0.5)
        assert [s.acc for s in score_module(head, v, progress=False)] == list(
            rows["frozen + LR", t].values()
        )
    vader = score_module(baselines.VaderZeroShot(), eps[SENTIMENT], progress=False)
    assert [s.acc for s in vader] == list(rows["VADER", SENTIMENT].values())

    md = (out / "results.md").read_text()
    assert "| VADER | - |" in md  # its cell on the topic target
    assert "SetFit: SetFit per episode, body minilm, the library's defaults, on the first 2 " in md
    assert "ProtoNet + SetFit: SetFit per episode from ProtoNet's encoder after its meta-tr" in md
    assert "Paired difference to `FineTune`" in md
    assert "Paired difference to `SetFit [2 episodes]`" in md
    line = next(x for x in md.split("Paired difference to `FineTune`")[1].splitlines()
                if x.startswith("| SetFit [2 episodes] |"))  # fmt: skip
    sf, ft = rows["SetFit [2 episodes]", TOPICS], rows["FineTune", TOPICS]
    diff = [sf[k] - ft[k] for k in sf]
    assert line.split("|")[2].strip() == (
        f"{100 * sum(diff) / 2:+.2f} ± {100 * 1.96 * abs(diff[0] - diff[1]) / 2:.2f} (n=2)"
    )
