"""Issue 12.5: the report says which step the export is from, why training stopped, and warns
loudly when a time cap ended training early."""

from __future__ import annotations

from lightning_meta.evaluation.export_meta import ExportMeta


def test_max_steps_run() -> None:
    meta = ExportMeta(
        exported_step=50, global_step=50, stop_reason="max_steps", monitor="val/acc",
        config={"trainer": {"max_steps": 50, "max_time": "00:00:12:00"}},
    )  # fmt: skip
    assert meta.provenance() == [
        "Exported checkpoint: step 50 (selected on val/acc); training stopped at step 50 of "
        "max_steps 50, stop_reason: max_steps."
    ]


def test_time_capped_run_warns() -> None:
    meta = ExportMeta(
        exported_step=20, global_step=21, stop_reason="max_time", monitor="val/acc",
        config={"trainer": {"max_steps": 50, "max_time": "00:00:12:00"}},
    )  # fmt: skip
    lines = meta.provenance()
    assert "step 21 of max_steps 50, stop_reason: max_time" in lines[0]
    assert lines[1].startswith("WARNING: the time cap (trainer.max_time 00:00:12:00) ended")
    assert "NOT those of the configured run" in lines[1]


def test_old_export_without_the_fields() -> None:
    assert "stop_reason: not recorded" in ExportMeta().provenance()[0]


def test_the_training_precision_is_stated() -> None:
    meta = ExportMeta(precision="32-true (this CPU has no native bf16: AVX2 only)")
    assert meta.provenance()[1] == (
        "Meta-trained in precision 32-true (this CPU has no native bf16: AVX2 only); "
        "scored in fp32."
    )
    assert ExportMeta.from_dict({"precision": "bf16-mixed"}).precision == "bf16-mixed"
