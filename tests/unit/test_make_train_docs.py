"""The README prints the commands `make train` and `make train-minilm` run, as the Makefile has them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def recipe(target: str) -> list[str]:
    """The command lines of a Makefile target, with the venv prefix removed."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.M)
    assert match, f"no recipe for {target} in the Makefile"
    return [line.strip().replace("$(VENV)/bin/", "") for line in match.group(1).splitlines()]


def section(heading: str) -> str:
    """README text from a heading to the next heading of the same or a higher level."""
    text = (ROOT / "README.md").read_text()
    start = text.index(heading)
    level = len(heading) - len(heading.lstrip("#"))
    rest = text[start + len(heading) :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


@pytest.mark.parametrize(
    ("target", "heading"),
    [
        ("train", "## `make train`"),
        ("train-minilm", "### The MiniLM-L6 variant"),
    ],
)
def test_readme_prints_the_recipe(target: str, heading: str) -> None:
    lines = recipe(target)
    assert len(lines) == 2 and all(line.startswith("lightning-meta ") for line in lines)
    blocks = re.findall(r"```bash\n(.*?)```", section(heading), re.S)
    printed = [ln.split("#", 1)[0].strip() for b in blocks for ln in b.splitlines()]
    for line in lines:
        assert line in printed, f"README section {heading!r} does not print `{line}`"


def test_recipe_parser_reads_the_target_not_its_neighbour() -> None:
    assert recipe("train")[0] != recipe("train-minilm")[0]
    assert "--episodes 25" in recipe("train")[1]


def results_section(heading: str) -> str:
    """docs/results.md text from a heading to the next heading of the same or a higher level."""
    text = (ROOT / "docs" / "results.md").read_text()
    level = len(heading) - len(heading.lstrip("#"))
    out: list[str] = []
    fenced = False
    for line in text[text.index(heading) :].splitlines()[1:]:
        fenced ^= line.startswith("```")
        if not fenced and re.match(rf"#{{1,{level}}} ", line):
            break
        out.append(line)
    return "\n".join(out) + "\n"


def norm(line: str) -> str:
    """A shell line without comment, `|| exit 1`, trailing `; \\` and Make's `$$`, spaces normalised."""
    code = line.split("#", 1)[0].replace("$$c", "$c").split("||", 1)[0]
    return " ".join(code.rstrip("; \\").split())


def test_results_print_the_soup_recipe() -> None:
    """`make train-soup`'s fit loop, soup and report commands are the ones docs/results.md prints
    (shell continuations joined, whitespace normalised), and its three configs exist."""
    lines = [norm(ln) for ln in recipe("train-soup")]
    text = results_section("### A weight soup of the three seeds")
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    printed = {norm(ln) for b in blocks for ln in b.replace("\\\n", " ").splitlines()}
    commands = [ln for ln in lines if ln.startswith(("lightning-meta ", "for c in"))]
    assert [c.split()[1] for c in commands] == ["c", "fit", "soup", "report"]
    for line in commands:
        assert line in printed, f"docs/results.md does not print `{line}`"
    seeds = commands[0].split(" in ", 1)[1].split(";", 1)[0].split()
    assert seeds == ["mpnet", "mpnet_seed1", "mpnet_seed2"]
    for c in seeds:
        assert (ROOT / "configs" / "experiment" / "train" / f"{c}.yaml").is_file()
