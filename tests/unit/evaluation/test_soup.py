"""`lightning-meta soup`: the averaged weights against the mean worked out here, the soup scored
like an encoder holding those weights, and one-line errors before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lightning_meta.callbacks.export import export_module
from lightning_meta.cli.main import main
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.export_meta import ExportMeta
from lightning_meta.evaluation.loading import load_any
from lightning_meta.evaluation.soup import soup_exports
from lightning_meta.lightning import MAML
from tests.unit.fewshot.helpers import QUERY, SUPPORT, episode, module

DATA = {"config": {"data": {"init_args": {"families": [{"source": "wordnet"}]}}}}


def _export(tmp_path: Path, name: str, seed: int, **args: object) -> Path:
    mod = module(MAML, **{"first_order": True, "inner_steps": 1, **args})
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # a different fine-tuned copy of the same encoder per seed
        for p in mod.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return export_module(mod, tmp_path / name, "minilm", DATA)


def test_soup_is_the_mean_of_the_weights_and_scores_like_it(tmp_path: Path) -> None:
    a, b, c = (_export(tmp_path, f"e{i}", i) for i in range(3))
    assert main(["soup", "--exports", str(a), str(b), str(c), "--out", str(tmp_path / "s")]) == 0
    soup = tmp_path / "s"
    weights = [load_file(str(p / "model.safetensors")) for p in (a, b, c)]
    mean = load_file(str(soup / "model.safetensors"))
    assert set(mean) == set(weights[0])
    for k, v in mean.items():
        by_hand = (weights[0][k] + weights[1][k] + weights[2][k]) / 3
        torch.testing.assert_close(v, by_hand, rtol=0, atol=1e-6)
    meta = ExportMeta.read(soup)
    assert meta is not None and meta.soup_of == [str(a), str(b), str(c)]
    assert any(line.startswith("Uniform weight soup of 3 exports") for line in meta.provenance())
    assert ExportMeta.read(a).soup_of is None  # type: ignore[union-attr]
    # scored like an encoder holding the mean: copy it into one ingredient's evaluator
    ep = episode(SUPPORT, QUERY)
    soup_out = load_any(str(soup)).evaluate_episode(ep)
    reference = load_any(str(a))
    reference.model.encoder.load_state_dict(mean)  # the HF weights file: the encoder's tensors
    torch.testing.assert_close(soup_out.logits, reference.evaluate_episode(ep).logits)


def test_bad_soups_fail_in_one_line_and_write_nothing(tmp_path: Path) -> None:
    a, b = _export(tmp_path, "a", 0), _export(tmp_path, "b", 1)
    other = _export(tmp_path, "c", 2, inner_steps=3)
    out = tmp_path / "soup"
    cases = [
        ([a], "at least 2 exports"),
        ([a, a], "the same directory is given twice"),
        ([a, tmp_path], "is not an export"),
        ([a, other], "adapts with inner_steps=3"),
    ]
    for exports, message in cases:
        with pytest.raises(ConfigError, match=message):
            soup_exports(exports, out)
        assert not out.exists()
    out.mkdir()
    with pytest.raises(ConfigError, match="already exists"):
        soup_exports([a, b], out)
