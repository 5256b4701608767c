"""bf16 mixed precision and the attention kernel (``model.encoder.attention``).

``make train`` meta-trains under ``trainer.precision: bf16-mixed`` with eager attention. These
tests check the option reaches the encoder, that a bf16 meta-loss and its gradient match the
fp32 reference on the same episodes (the weights stay fp32: only the compute is bf16), and
that a Lightning fit under bf16-mixed trains fp32 weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from lightning_meta.data.config import EpisodeShape, EpisodeStream, Tokenization
from lightning_meta.data.datamodule import EpisodicDataModule
from lightning_meta.errors import ConfigError
from lightning_meta.lightning import MAML
from lightning_meta.lightning.config import EncoderConfig, InnerLoopArgs

TINY = EncoderConfig(backbone="tiny")


def _data(path: Path, cache: Path) -> EpisodicDataModule:
    path.write_text(
        "text,label\n"
        + "".join(
            f"text {i % 7} number {i} of {'ab'[i % 2]},{'pos' if i % 2 else 'neg'}\n"
            for i in range(80)
        )  # fmt: skip
    )
    dm = EpisodicDataModule(
        data_files=[str(path)],
        shape=EpisodeShape(n_way=2, k_shot=3, q_query=3),
        stream=EpisodeStream(meta_batch_size=2, train_episodes=8, val_episodes=2, test_episodes=2),
        tokens=Tokenization(max_length=12, cache_dir=str(cache)),
    )
    dm.setup("fit")
    return dm


def test_attention_reaches_the_encoder() -> None:
    assert EncoderConfig().attention is None  # the library default (SDPA for BERT)
    kernel = lambda m: m.model.encoder.config._attn_implementation  # noqa: E731
    assert kernel(MAML(first_order=True, encoder=EncoderConfig("minilm"))) == "sdpa"
    assert kernel(MAML(first_order=True, encoder=EncoderConfig("minilm", attention="eager"))) == (
        "eager"
    )
    assert kernel(MAML(encoder=EncoderConfig("minilm"))) == "eager"  # second order: always
    with pytest.raises(ConfigError, match=r"^model\.encoder\.attention: second-order MAML"):
        MAML(encoder=EncoderConfig("minilm", attention="sdpa"))


def test_bf16_meta_loss_and_gradient_match_fp32(tmp_path: Path) -> None:
    dm = _data(tmp_path / "s.csv", tmp_path)
    batch = next(iter(dm.train_dataloader()))
    model = MAML(first_order=True, encoder=TINY, inner=InnerLoopArgs(adapt="top1", steps=2))

    def loss_and_grad(bf16: bool) -> tuple[float, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = model.meta_loss(batch)
        loss.backward()
        grads = [p.grad.flatten() for p in model.parameters() if p.grad is not None]
        return float(loss), torch.cat(grads)

    ref_loss, ref_grad = loss_and_grad(False)
    loss, grad = loss_and_grad(True)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert grad.dtype == torch.float32
    # bf16 keeps 8 bits of mantissa: ~0.4% per rounding, a few % after a few layers
    assert loss == pytest.approx(ref_loss, rel=0.03)
    cos = torch.nn.functional.cosine_similarity(grad, ref_grad, dim=0)
    assert float(cos) > 0.98
    assert float(grad.norm()) == pytest.approx(float(ref_grad.norm()), rel=0.1)


def test_fit_under_bf16_mixed_trains_fp32_weights(tmp_path: Path) -> None:
    pl.seed_everything(0)
    dm = _data(tmp_path / "s.csv", tmp_path)
    model = MAML(first_order=True, encoder=TINY, inner=InnerLoopArgs(adapt="top1", steps=1))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    t = pl.Trainer(
        max_steps=2, limit_val_batches=1, num_sanity_val_steps=0, inference_mode=False,
        use_distributed_sampler=False, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
        precision="bf16-mixed",
    )  # fmt: skip
    t.fit(model, datamodule=dm)
    assert t.global_step == 2 and torch.isfinite(torch.tensor(t.callback_metrics["train/loss"]))
    assert all(p.dtype == torch.float32 for p in model.parameters())
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert "model.encoder.encoder.layer.0.attention.self.query.weight" in changed
