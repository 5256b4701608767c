"""Built-in offline corpora read from Debian packages: WordNet glosses and fortune cookies.

Each reader returns ``(texts, labels, class_names)`` with ``labels[i]`` indexing
``class_names``. The sentiment corpora live in :mod:`lightning_meta.data.sentiment`; the name
registry that ties them together is in :mod:`lightning_meta.data.sources`.
"""

from __future__ import annotations

from pathlib import Path

WORDNET_DIR = Path("/usr/share/wordnet")
FORTUNES_DIR = Path("/usr/share/games/fortunes")
WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
MIN_FORTUNES_PER_CATEGORY = 20

# WordNet's lexicographer files in lexnames order: the 2-digit number in field 2 indexes this.
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
    "adj.ppl",
)  # fmt: skip

Corpus = tuple[list[str], list[int], list[str]]


def wordnet_files(root: Path = WORDNET_DIR) -> list[Path]:
    return [root / name for name in WORDNET_FILES]


def read_wordnet(root: Path = WORDNET_DIR) -> Corpus:
    """Every synset gloss labelled with its lexicographer file (45 classes)."""
    texts: list[str] = []
    labels: list[int] = []
    for path in wordnet_files(root):
        with path.open(encoding="latin-1") as fh:
            for line in fh:
                if line.startswith("  "):  # licence header
                    continue
                head, sep, gloss = line.partition(" | ")
                if not sep:
                    continue
                texts.append(gloss.strip())
                labels.append(int(head.split(maxsplit=2)[1]))
    return texts, labels, list(LEXNAMES)


def fortune_files(root: Path = FORTUNES_DIR) -> list[Path]:
    """Category files: everything except the ``*.dat`` indexes and ``*.u8`` links."""
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix not in (".dat", ".u8"))


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def strip_attribution(lines: list[str]) -> list[str]:
    """Drop a trailing attribution (``-- Author``, maybe indented, maybe continued on
    indented lines below it) so that the text does not give its category away."""
    lines = list(lines)
    while True:
        while lines and not lines[-1].strip():
            lines.pop()
        starts = [i for i, line in enumerate(lines) if line.lstrip().startswith("--")]
        if not starts:
            return lines
        i = starts[-1]
        tail = lines[i + 1 :]
        if len(tail) > 3 or any(t.strip() and not t[:1].isspace() for t in tail):
            return lines
        lines = lines[:i]


def split_fortunes(text: str) -> list[str]:
    """Entries of one fortune file (separated by ``%`` lines), attribution stripped; lines
    kept, blank lines dropped, whitespace inside a line collapsed to single spaces."""
    entries: list[str] = []
    block: list[str] = []
    for line in [*text.splitlines(), "%"]:
        if line.rstrip() == "%":
            kept = (" ".join(line.split()) for line in strip_attribution(block))
            body = "\n".join(line for line in kept if line)
            if body:
                entries.append(body)
            block = []
        else:
            block.append(line.replace("\x08", ""))
    return entries


def read_fortunes(
    root: Path = FORTUNES_DIR, min_entries: int = MIN_FORTUNES_PER_CATEGORY
) -> Corpus:
    """One class per fortune file with at least ``min_entries`` entries."""
    texts: list[str] = []
    labels: list[int] = []
    names: list[str] = []
    for path in fortune_files(root):
        entries = split_fortunes(_decode(path.read_bytes()))
        if len(entries) < min_entries:
            continue
        texts.extend(entries)
        labels.extend([len(names)] * len(entries))
        names.append(path.name)
    return texts, labels, names
