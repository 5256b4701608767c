"""Callbacks: model export (and, later, plots)."""

from lightning_meta.callbacks.export import HFExport, export_module

__all__ = ["HFExport", "export_module"]
