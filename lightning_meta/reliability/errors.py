"""Reduce jsonargparse/LightningCLI errors to one line: ``<field>: <what>; <fix>``.

jsonargparse reports a bad value as a nested, multi-line dump (``Parser key "model": Does not
validate against any of the Union subtypes ... Errors: - Problem with given class_path ...:
Parser key "inner.steps": Expected a <class 'int'>. Got value: abc``) and raises errors from
constructors wrapped the same way. These helpers pull out the dotted config key and the
innermost message and add a fix, e.g.::

    model.init_args.inner.steps: expected int, got 'abc'; set it to an int value in the config
"""

from __future__ import annotations

import re

import yaml

from lightning_meta.errors import ConfigError

HELP = "see `lightning-meta fit --help`"
_KEY = re.compile(r'^Parser key "([^"]+)":?$')
_NOISE = (
    "Does not validate against any of the",
    "Subtypes:",
    "Errors:",
    "Given value type:",
    "Given value:",
    "Expected a <class 'NoneType'>",  # the `None` branch of Optional[...]: never the point
    "tip:",
)
SECTIONS = {"EpisodicModule": "model", "LightningModule": "model", "LightningDataModule": "data"}


def _strip_subcommand(key: str) -> str:
    head, _, rest = key.partition(".")
    return rest if head in ("fit", "validate", "test", "predict") and rest else key


def _clean(line: str) -> str:
    return line.strip().removeprefix("- ").strip()


def _describe(message: str, key: str) -> tuple[str, str, str]:
    """(field, what, fix) from the innermost jsonargparse message."""
    m = re.match(r"the following arguments are required: (.+)$", message)
    if m:
        fields = [_strip_subcommand(f.strip()) for f in m.group(1).split(",")]
        them = "them" if len(fields) > 1 else "it"
        return ", ".join(fields), "required but not given", f"add {them} to the config"
    m = re.match(r"unrecognized arguments: (\S+)", message)
    if m:
        return m.group(1).split("=")[0], "unknown option", f"remove it or fix its spelling ({HELP})"
    m = re.match(r"Expected a typing\.Literal\[(.+)\]\. Got value: (.*)$", message)
    if m:
        return key, f"'{m.group(2)}' is not one of {m.group(1)}", f"use one of {m.group(1)}"
    m = re.match(r"Expected a (.+?)\. Got value: (.*)$", message)
    if m:
        kind = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", m.group(1))
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        return (
            key,
            f"expected {kind}, got {m.group(2)!r}",
            f"set it to {article} {kind} value in the config",
        )
    m = re.match(r"Group ['\"]([^'\"]+)['\"] does not accept option ['\"]([^'\"]+)['\"]", message)
    if m:  # an unknown field inside an argument group (model.init_args.inner.stpes)
        field = ".".join(p for p in (key, m.group(1), m.group(2)) if p)
        return field, "unknown option", f"remove it or fix its spelling ({HELP})"
    m = re.match(r"(?:Option|Key) ['\"]([^'\"]+)['\"] is not (?:accepted|expected)", message)
    if m:
        field = f"{key}.{m.group(1)}" if key else m.group(1)
        return field, "unknown option", f"remove it or fix its spelling ({HELP})"
    m = re.search(r"module '([\w.]+)' has no attribute '(\w+)'|No module named '([\w.]+)'", message)
    if m or "Import path" in message or "does not correspond to a subclass" in message:
        section = key.removesuffix(".init_args")
        what = message if len(message) < 160 else message[:157] + "..."
        return f"{section}.class_path", what, f"use one of {known_classes(section)}"
    return key, message, f"fix {key or 'the config'} ({HELP})"


def known_classes(section: str) -> str:
    """Class paths accepted for ``model`` or ``data`` (for error hints)."""
    import importlib

    package = "lightning_meta.data" if section == "data" else "lightning_meta.lightning"
    names = getattr(importlib.import_module(package), "__all__", [])
    suffix = "DataModule" if section == "data" else ""
    found = [
        f"{package}.{n}"
        for n in names
        if n.endswith(suffix) and n not in ("TaskDataModule", "EpisodicModule") and n[:1].isupper()
    ]
    return ", ".join(sorted(found)) if found else HELP


def reduce_parser_error(text: str) -> str:
    """One line for a jsonargparse parse/validation error message."""
    keys: list[str] = []
    inner: list[str] = []
    for raw in text.splitlines():
        line = _clean(raw)
        if not line or line.startswith(_NOISE):
            continue
        k = _KEY.match(line)
        if k:
            keys.append(k.group(1))
            continue
        if line.startswith("Problem with given class_path"):  # errors inside init_args follow
            keys.append("init_args")
            continue
        inner.append(line)
    key = _strip_subcommand(".".join(keys))
    message = inner[-1] if inner else (text.strip().splitlines() or ["invalid configuration"])[0]
    field, what, fix = _describe(message, key)
    return f"{field}: {what}; {fix}" if field else f"{what}; {fix}"


def _section(text: str) -> str:
    m = re.search(r"Subtypes: \[<class '[\w.]*?(\w+)'>", text)
    return SECTIONS.get(m.group(1), "") if m else ""


def user_error(err: BaseException) -> BaseException | None:
    """The exception a constructor raised inside jsonargparse's wrappers, if it is a user error
    (ConfigError, or a one-line ValueError naming a field like ``adapt: ...``)."""
    chain: list[BaseException] = []
    cur: BaseException | None = err
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or (None if cur.__suppress_context__ else cur.__context__)
    for exc in chain:
        if isinstance(exc, ConfigError):
            return exc
    for exc in reversed(chain):
        if (
            isinstance(exc, ValueError)
            and re.match(r"^[\w.]+: \S", str(exc))
            and "\n" not in str(exc)
        ):
            return exc
    return None


def reduce_instantiation_error(err: BaseException) -> str | None:
    """One line for an error raised while instantiating model/data, or None if not a user error."""
    found = user_error(err)
    if found is None:
        return None
    message = str(found)
    section = _section(str(err))
    field = message.split(":", 1)[0]
    if section == "model" and field == "model":  # the encoder could not be resolved
        message = "model.encoder.backbone" + message[len("model") :]
    elif section and not has_section(field):
        message = f"{section}.{message}"
    return with_fix(message)


def has_section(field: str) -> bool:
    """Whether a field name already says which config section it belongs to."""
    return field.split(".", 1)[0] in (
        "model",
        "data",
        "trainer",
        "seed_everything",
        "ckpt_path",
    ) or field.startswith("-")


def with_fix(message: str) -> str:
    """Append a generic fix to a ``field: what`` message that has none."""
    if ";" in message:
        return message
    field = message.split(":", 1)[0]
    return f"{message}; fix {field} in the config ({HELP})"


def yaml_error(path: str, err: yaml.YAMLError) -> str:
    """One line for a YAML syntax error in a --config file."""
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"--config: {path}: YAML syntax error{where} ({problem}); fix the YAML syntax there"


def trainer_error(err: BaseException) -> str:
    """One line for an error raised by ``Trainer(...)`` (Lightning names the argument in
    backticks: "`max_steps` must be a non-negative integer ...")."""
    text = str(err).strip()
    first = text.splitlines()[0][:240].rstrip(".") if text else type(err).__name__
    m = re.match(r"`(\w+)`", first)
    field = f"trainer.{m.group(1)}" if m else "trainer"
    return f"{field}: {first}; fix {field} in the config ({HELP})"
