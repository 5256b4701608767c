"""Tiny offline demo data and a tiny accuracy suite (seconds on a CPU): notebooks and tests.

The CSV has 9 topic classes of short synthetic sentences ("the dog and the cat number 3");
the suite runs every algorithm on the random 2-layer ``tiny`` encoder, so its numbers show the
pipeline works, not what the methods are worth.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

__all__ = ["CLASS_WORDS", "tiny_suite", "write_demo_csv"]

CLASS_WORDS = {
    "animals": ["dog", "cat", "horse", "cow", "sheep", "goat", "lion", "tiger"],
    "colors": ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"],
    "food": ["bread", "cheese", "apple", "rice", "soup", "pasta", "salad", "cake"],
    "weather": ["rain", "snow", "wind", "storm", "sun", "cloud", "fog", "thunder"],
    "music": ["guitar", "piano", "drum", "violin", "song", "melody", "choir", "flute"],
    "sports": ["football", "tennis", "golf", "hockey", "rugby", "boxing", "skiing", "cycling"],
    "tools": ["hammer", "saw", "drill", "wrench", "shovel", "axe", "knife", "ladder"],
    "body": ["hand", "foot", "head", "knee", "elbow", "shoulder", "finger", "neck"],
    "vehicles": ["car", "bus", "train", "truck", "bicycle", "plane", "boat", "tram"],
}


def write_demo_csv(path: str | Path, per_class: int = 24) -> Path:
    """A ``text,label`` CSV: ``per_class`` sentences for each of the 9 classes."""
    p = Path(path)
    with p.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["text", "label"])
        for label, words in CLASS_WORDS.items():
            for i in range(per_class):
                a, b = words[i % len(words)], words[(3 * i + 1) % len(words)]
                w.writerow([f"the {a} and the {b} number {i}", label])
    return p


def _method(name: str, class_path: str, steps: int, **init_args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "model": {"class_path": f"lightning_meta.lightning.{class_path}",
                  "init_args": {"encoder": {"backbone": "tiny"}, **init_args}},
        "train_steps": steps,
    }  # fmt: skip
    if class_path == "MAML":
        out["gradient_clip_val"] = 1.0
    return out


def tiny_suite(source: str | Path, episodes: int = 3, train_steps: int = 2) -> dict[str, Any]:
    """A suite (as YAML-ready data) over the demo CSV at ``source``: 6 methods x 2 targets."""
    classes = {"split_fractions": [0.34, 0.33, 0.33], "split_mode": "classes"}
    tokens = {"tokens": {"max_length": 16}}
    return {
        "name": "tiny",
        "seed": 0,
        "episodes": episodes,
        "train": {"init_args": {"source": str(source), **classes, **tokens,
                                "shape": {"n_way": 3, "k_shot": 2, "q_query": 3},
                                "stream": {"meta_batch_size": 2}}},
        "methods": [
            _method("MAML", "MAML", train_steps, inner={"steps": 1}),
            _method("first-order MAML", "MAML", train_steps, inner={"steps": 2}, first_order=True),
            _method("Reptile", "Reptile", train_steps, inner={"steps": 2}),
            _method("ProtoNet", "ProtoNet", train_steps),
            _method("FineTune", "FineTune", 0, inner={"steps": 2}),
            _method("frozen + centroid", "ProtoNet", 0, distance="cosine"),
        ],
        "targets": [
            {"name": "held-out classes 3-way 1-shot",
             "data": {"source": str(source), **classes, **tokens,
                      "shape": {"n_way": 3, "k_shot": 1, "q_query": 3}}},
            {"name": "examples 2-way 2-shot",
             "data": {"source": str(source), "split_mode": "examples", **tokens,
                      "shape": {"n_way": 2, "k_shot": 2, "q_query": 2}}},
        ],
        "quick": {"episodes": 2, "train_steps": 1},
    }  # fmt: skip
