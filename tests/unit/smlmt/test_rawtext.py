"""Raw-text sources: files (lines, paragraphs), directories, globs, table columns, built-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_meta.data.rawtext import load_raw_texts, split_gloss, texts_fingerprint
from lightning_meta.errors import ConfigError


def test_lines_drop_empty_and_duplicates(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("one  two\n\n   \nthree\none two\n")
    texts, report = load_raw_texts([str(f)])
    assert texts == ["one two", "three"]
    assert (report.rows_in, report.empty, report.duplicates, report.rows_out) == (5, 2, 1, 2)


def test_paragraphs(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("first line\nsame paragraph\n\n\nsecond\n  \nthird\n")
    texts, _ = load_raw_texts([str(f)], unit="paragraph")
    assert texts == ["first line same paragraph", "second", "third"]


def test_many_files_directory_and_glob(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("bee\n")
    (tmp_path / "a.txt").write_text("ant\n")
    (tmp_path / "c.md").write_text("cat\n")
    by_dir, _ = load_raw_texts([str(tmp_path)])
    assert by_dir == ["ant", "bee"]  # *.txt, sorted
    by_glob, _ = load_raw_texts([str(tmp_path / "*.md"), str(tmp_path / "b.txt")])
    assert by_glob == ["cat", "bee"]


def test_table_text_column_without_labels(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("body,other\nhello world,1\nsecond row,2\n")
    texts, _ = load_raw_texts([str(f)], text_column="body")
    assert texts == ["hello world", "second row"]
    with pytest.raises(ConfigError, match="text_column: column 'text' not found.*body, other"):
        load_raw_texts([str(f)])


def test_labelled_source_text_column(tmp_path: Path) -> None:
    f = tmp_path / "l.jsonl"
    f.write_text('{"text": "alpha beta", "label": "x"}\n{"text": "gamma", "label": "y"}\n')
    texts, _ = load_raw_texts([str(f)])
    assert texts == ["alpha beta", "gamma"]


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^texts: no text file matches"):
        load_raw_texts([str(tmp_path / "missing.txt")])
    (tmp_path / "empty.txt").write_text("\n  \n\n")
    with pytest.raises(ConfigError, match="^texts: .* gave no non-empty text"):
        load_raw_texts([str(tmp_path / "empty.txt")])
    with pytest.raises(ConfigError, match="^texts: give a list"):
        load_raw_texts("wordnet")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="text_unit"):
        load_raw_texts([str(tmp_path / "empty.txt")], unit="sentence")  # type: ignore[arg-type]


def test_split_gloss() -> None:
    gloss = 'apply powder to; "She powdered her nose"; "The King wears a powdered wig"'
    assert split_gloss(gloss) == [
        "apply powder to", "She powdered her nose", "The King wears a powdered wig",
    ]  # fmt: skip
    assert split_gloss("a or b; c") == ["a or b; c"]


def test_fingerprint_changes_with_content() -> None:
    assert texts_fingerprint(["a", "b"]) == texts_fingerprint(["a", "b"])
    assert texts_fingerprint(["a", "b"]) != texts_fingerprint(["ab"])
    assert texts_fingerprint(["a", "b"]) != texts_fingerprint(["b", "a"])


@pytest.mark.data
def test_builtin_corpora() -> None:
    if not Path("/usr/share/wordnet/data.noun").exists():
        pytest.skip("needs wordnet-base: sudo apt-get install -y wordnet-base")
    texts, report = load_raw_texts(["wordnet"], heldout={})  # every class (opt-out)
    assert len(texts) > 150_000 and report.per_source["wordnet"] > 160_000
    assert "She powdered her nose" in set(texts)
    train_only, report = load_raw_texts(["wordnet"])  # default: the 25 train classes only
    assert 100_000 < len(train_only) < len(texts) and set(train_only) <= set(texts)
    if Path("/usr/share/games/fortunes").exists():
        fort, _ = load_raw_texts(["fortunes"], heldout={})
        assert len(fort) > 10_000
        assert len(load_raw_texts(["fortunes"])[0]) < len(fort)
