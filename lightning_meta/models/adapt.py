"""What adapts in the inner loop: parse the ``adapt`` spec and resolve it to parameter names.

Specs (the per-episode head always adapts):
- ``"all"``: every encoder parameter that reaches the output (BERT's unused pooler is skipped);
- ``"head"``: only the per-episode head; the whole encoder is fixed in the inner loop;
- ``"top<k>"``: the top ``k`` transformer layers (``top1`` = the last layer);
- ``"re:<regex>"``: encoder parameters whose name (as in ``encoder.named_parameters()``)
  matches ``re.search``.

Non-adapted parameters are held fixed in the inner loop but still meta-learned in the outer loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

__all__ = ["AdaptSpec", "find_layers", "parse_adapt", "resolve_adapted"]

_FIX = "use 'all', 'head', 'top<k>' (e.g. 'top1') or 're:<regex>' (e.g. 're:layer\\.5\\.')"

# Modules whose parameters never reach a pooled-embedding output (BERT's tanh pooler).
UNUSED_PREFIXES = ("pooler.",)


@dataclass(frozen=True)
class AdaptSpec:
    kind: str  # "all" | "head" | "top" | "re"
    top_k: int = 0
    pattern: str = ""


def parse_adapt(adapt: str) -> AdaptSpec:
    """Validate ``adapt``; one-line ValueError naming the field and the fix."""
    if adapt in ("all", "head"):
        return AdaptSpec(adapt)
    if adapt.startswith("top"):
        digits = adapt[3:]
        if digits.isdigit() and int(digits) >= 1:
            return AdaptSpec("top", top_k=int(digits))
        raise ValueError(f"adapt: '{adapt}' needs a positive layer count after 'top'; {_FIX}")
    if adapt.startswith("re:"):
        pattern = adapt[3:]
        if not pattern:
            raise ValueError(f"adapt: '{adapt}' has an empty regex; {_FIX}")
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"adapt: invalid regex '{pattern}' ({err}); {_FIX}") from None
        return AdaptSpec("re", pattern=pattern)
    raise ValueError(f"adapt: unknown value '{adapt}'; {_FIX}")


def find_layers(encoder: nn.Module) -> tuple[str, nn.ModuleList] | None:
    """The stack of transformer blocks: ``encoder.layer`` (BERT-like) or the longest ModuleList
    of identical blocks. Returns (dotted name, ModuleList) or None."""
    inner = getattr(encoder, "encoder", None)
    if inner is not None and isinstance(getattr(inner, "layer", None), nn.ModuleList):
        return "encoder.layer", inner.layer
    best: tuple[str, nn.ModuleList] | None = None
    for name, module in encoder.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) > 0:
            kinds = {type(m) for m in module}
            if len(kinds) == 1 and (best is None or len(module) > len(best[1])):
                best = (name, module)
    return best


def resolve_adapted(encoder: nn.Module, spec: AdaptSpec) -> list[str]:
    """Names (relative to ``encoder``) of the encoder parameters adapted in the inner loop."""
    names = [
        n
        for n, p in encoder.named_parameters()
        if p.requires_grad and not n.startswith(UNUSED_PREFIXES)
    ]
    if spec.kind == "head":
        return []
    if spec.kind == "all":
        return names
    if spec.kind == "re":
        regex = re.compile(spec.pattern)
        chosen = [n for n in names if regex.search(n)]
        if not chosen:
            raise ValueError(
                f"adapt: regex '{spec.pattern}' matches no encoder parameter "
                f"(names look like '{names[-1] if names else ''}'); {_FIX}"
            )
        return chosen
    found = find_layers(encoder)
    if found is None:
        raise ValueError(
            f"adapt: 'top{spec.top_k}' needs a stack of layers, none found in "
            f"{type(encoder).__name__}; use 'all', 'head' or 're:<regex>'"
        )
    prefix, layers = found
    if spec.top_k > len(layers):
        raise ValueError(
            f"adapt: 'top{spec.top_k}' exceeds the {len(layers)} layers of "
            f"{type(encoder).__name__}; use top1..top{len(layers)} or 'all'"
        )
    first = len(layers) - spec.top_k
    wanted = tuple(f"{prefix}.{i}." for i in range(first, len(layers)))
    return [n for n in names if n.startswith(wanted)]
