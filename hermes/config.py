"""Load config.yaml and validate it against the dataclasses in hermes.settings.

Validation is generic: it walks dataclass fields and their type hints (nested
dataclasses, Literal, X | None, unions, str, int, float, bool, list[...],
dict[str, ...]), so a section added to settings.py is validated without code here.
Every error is one line naming the file, the line and the dotted key.

YAML is read with PyYAML (C loader when available); scalars keep YAML 1.1 typing
except that a str or Literal field takes the text as written (so `mode: off`
means "off", not false). A null value for a field that cannot be null means
"use the default". Editing (which needs ruamel.yaml) lives in hermes.config_edit.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Union, get_args, get_origin

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hermes.errors import ConfigError
from hermes.settings import Settings, check_constraint

if TYPE_CHECKING:
    from typing import TypeAlias

    _AnyLoader: TypeAlias = yaml.SafeLoader | yaml.CSafeLoader
_Loader: type[_AnyLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # C when built

_TAG = "tag:yaml.org,2002:"
_NONE = type(None)


class SettingsError(ConfigError):
    """A validation error; `key` is the dotted key, `detail` the problem without place."""

    def __init__(self, source: str, line: int, key: str, detail: str, *, keyed: bool = True):
        self.source, self.line, self.key, self.detail = source, line, key, detail
        where = f"{key}: " if keyed and key else ""
        super().__init__(f"{source} line {line}: {where}{detail}")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """Resolved type hints of a dataclass's init fields (cached per class)."""
    hints = _HINTS.get(cls)
    if hints is None:
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        hints = {k: v for k, v in typing.get_type_hints(cls).items() if k in names}
        _HINTS[cls] = hints
    return hints


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _accepts_none(tp: Any) -> bool:
    return tp is _NONE or (_is_union(tp) and _NONE in get_args(tp))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _describe_type(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(tp))
    if origin is list:
        return "a list"
    if origin is dict or _is_dataclass_type(tp):
        return "a mapping"
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    return names.get(tp, "null" if tp is _NONE else getattr(tp, "__name__", str(tp)))


def _shape(tp: Any) -> str:
    if get_origin(tp) is dict or _is_dataclass_type(tp):
        return "mapping"
    return "list" if get_origin(tp) is list else "scalar"


def _node_shape(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "mapping"
    return "list" if isinstance(node, SequenceNode) else "scalar"


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _TAG + "null"


def _got(node: Node) -> str:
    if _is_null(node):
        return "null"
    if isinstance(node, ScalarNode):
        return repr(str(node.value))
    return "a mapping" if isinstance(node, MappingNode) else "a list"


def close_match(name: str, choices: list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return found[0] if found else None


class _Validator:
    """Turns a composed YAML node tree into typed values, or raises SettingsError."""

    def __init__(self, loader: _AnyLoader, source: str):
        self.loader, self.source = loader, source

    def fail(self, node: Node, key: str, detail: str, *, keyed: bool = True) -> NoReturn:
        raise SettingsError(self.source, node.start_mark.line + 1, key, detail, keyed=keyed)

    def construct(self, node: Node, key: str) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.fail(node, key, f"invalid value: {getattr(exc, 'problem', exc)}")

    def value(self, node: Node, tp: Any, key: str) -> Any:
        origin = get_origin(tp)
        if _is_dataclass_type(tp):
            return self.section(node, tp, key)
        if _is_union(tp):
            return self.union(node, get_args(tp), key)
        if origin is Literal:
            return self.literal(node, get_args(tp), key)
        if origin is list:
            return self.sequence(node, get_args(tp)[0], key)
        if origin is dict:
            key_tp, value_tp = get_args(tp)
            return self.mapping(node, key_tp, value_tp, key)
        if tp in (str, int, float, bool, _NONE):
            return self.scalar(node, tp, key)
        raise TypeError(f"settings type {tp!r} at {key!r} is not supported by the validator")

    def scalar(self, node: Node, tp: type, key: str) -> Any:
        if isinstance(node, ScalarNode):
            tag = node.tag.removeprefix(_TAG)
            if tp is str and tag != "null":
                return str(node.value)
            if tp is _NONE and tag == "null":
                return None
            if (tp is int and tag == "int") or (tp is bool and tag == "bool"):
                return self.construct(node, key)
            if tp is float and tag in ("int", "float"):
                return float(self.construct(node, key))
        self.fail(node, key, f"expected {_describe_type(tp)}, got {_got(node)}")

    def literal(self, node: Node, choices: tuple[Any, ...], key: str) -> Any:
        if isinstance(node, ScalarNode) and not _is_null(node):
            text = str(node.value)
            value = self.construct(node, key)
            for choice in choices:
                if text == choice or (type(value) is type(choice) and value == choice):
                    return choice
        options = ", ".join(str(c) for c in choices)
        if isinstance(node, ScalarNode):
            self.fail(node, key, f"{str(node.value)!r} is not one of {options}")
        self.fail(node, key, f"expected one of {options}, got {_got(node)}")

    def union(self, node: Node, options: tuple[Any, ...], key: str) -> Any:
        if _is_null(node) and _NONE in options:
            return None
        alternatives = [o for o in options if o is not _NONE]
        fitting = [o for o in alternatives if _shape(o) == _node_shape(node)]
        if len(alternatives) == 1 or len(fitting) == 1:
            return self.value(node, (fitting or alternatives)[0], key)
        for option in fitting:
            try:
                return self.value(node, option, key)
            except SettingsError:
                continue
        wanted = " or ".join(_describe_type(o) for o in options)
        self.fail(node, key, f"expected {wanted}, got {_got(node)}")

    def sequence(self, node: Node, item_tp: Any, key: str) -> list[Any]:
        if not isinstance(node, SequenceNode):
            self.fail(node, key, f"expected a list, got {_got(node)}")
        return [self.value(item, item_tp, f"{key}[{i}]") for i, item in enumerate(node.value)]

    def pairs(self, node: Node, key: str) -> list[tuple[str, Node, Node]]:
        """The (name, key node, value node) entries of a mapping, without duplicates."""
        if not isinstance(node, MappingNode):
            self.fail(node, key, f"expected a mapping, got {_got(node)}")
        self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merges
        seen: dict[str, int] = {}
        entries: list[tuple[str, Node, Node]] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or _is_null(key_node):
                self.fail(key_node, key, "keys must be plain names or strings")
            name = str(key_node.value)
            dotted = _join(key, name)
            if name in seen:
                detail = f"duplicate key '{dotted}' (also on line {seen[name]}); keep only one"
                self.fail(key_node, dotted, detail, keyed=False)
            seen[name] = key_node.start_mark.line + 1
            entries.append((name, key_node, value_node))
        return entries

    def mapping(self, node: Node, key_tp: Any, value_tp: Any, key: str) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for name, key_node, value_node in self.pairs(node, key):
            dotted = _join(key, name)
            typed_key = self.value(key_node, key_tp, dotted)
            result[typed_key] = self.value(value_node, value_tp, dotted)
        return result

    def section(self, node: Node, cls: type, key: str) -> Any:
        if _is_null(node):
            return cls()
        return cls(**self.fields(node, _hints(cls), _metadata(cls), key))

    def fields(
        self,
        node: Node,
        hints: dict[str, Any],
        meta: Mapping[str, Mapping[str, Any]],
        key: str,
        valid: Callable[[], list[str]] | None = None,
    ) -> dict[str, Any]:
        """The typed values of a mapping whose keys are HINTS (name -> type), checked
        against META (name -> field metadata). VALID: the keys an error lists."""
        values: dict[str, Any] = {}
        for name, key_node, value_node in self.pairs(node, key):
            dotted = _join(key, name)
            if name not in hints:
                known = list(hints) if valid is None else valid()
                self.fail(key_node, dotted, _unknown(key, name, known), keyed=False)
            if _is_null(value_node) and not _accepts_none(hints[name]):
                continue  # an empty value keeps the default
            values[name] = self.value(value_node, hints[name], dotted)
            field_meta = meta.get(name, {})
            problem = check_constraint(field_meta, values[name])
            if problem is not None:
                self.fail(value_node, dotted, problem)
            if "each_leaf" in field_meta:
                self.leaves(value_node, dotted, field_meta["each_leaf"])
        return values

    def settings(self, node: Node) -> Settings:
        """The whole file: the sections of `Settings`, and those of the platforms
        (each validated against its module's settings dataclass)."""
        hints = _sections()
        names = {name for name, _, _ in self.pairs(node, "")}
        platforms = _platform_settings(names - set(hints))
        values = self.fields(node, {**hints, **platforms}, _metadata(Settings), "", section_names)
        found = {n: values.pop(n) if n in values else c() for n, c in platforms.items()}
        return Settings(**values, platforms=found)

    def leaves(self, node: Node, key: str, check: Any) -> None:
        """Check each text at the ends of a nested mapping (e.g. the profile names
        of routes), failing at its own line and key."""
        if isinstance(node, MappingNode):
            for name, _, value_node in self.pairs(node, key):
                self.leaves(value_node, _join(key, name), check)
        elif isinstance(node, ScalarNode) and not _is_null(node):
            problem = check(str(node.value))
            if problem is not None:
                self.fail(node, key, problem)


def _metadata(cls: type) -> dict[str, Mapping[str, Any]]:
    return {f.name: f.metadata for f in dataclasses.fields(cls)}


def _sections() -> dict[str, Any]:
    """The sections `Settings` itself declares (name -> type); the platforms' own
    sections are not among them (`Settings.platforms` holds them)."""
    return {k: v for k, v in _hints(Settings).items() if k != "platforms"}


def _platform_settings(names: Collection[str]) -> dict[str, type]:
    """NAMES that are platforms with a config.yaml section -> its settings dataclass
    (only those modules are imported)."""
    from hermes import platforms

    found: dict[str, type] = {}
    for name in names:
        declared = platforms.find(name)
        if declared is not None and declared.settings is not None:
            found[name] = declared.settings
    return found


def section_names() -> list[str]:
    """Every top-level key of config.yaml: the sections of `Settings`, with the
    platforms' sections where `Settings.platforms` stands."""
    from hermes import platforms

    names: list[str] = []
    for name in _hints(Settings):
        if name == "platforms":
            names += [p.name for p in platforms.every() if p.settings is not None]
        else:
            names.append(name)
    return names


def _unknown(prefix: str, name: str, valid: list[str]) -> str:
    guess = close_match(name, valid)
    if guess is not None:
        return f"unknown key '{_join(prefix, name)}' (did you mean '{_join(prefix, guess)}'?)"
    where = f" under {prefix}" if prefix else ""
    return f"unknown key '{_join(prefix, name)}' (valid keys{where}: {', '.join(valid)})"


def _yaml_error(source: str, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = f" line {mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).replace("\n", " ")
    context = getattr(exc, "context", None)
    extra = f" ({context})" if context else ""
    return ConfigError(f"{source}{line}: invalid YAML: {problem}{extra}; fix the syntax there")


def parse_settings(text: str, source: str) -> Settings:
    """Validate config TEXT (SOURCE names it in errors); empty text gives the defaults."""
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _yaml_error(source, exc) from None
        if root is None:
            return Settings()
        if not isinstance(root, MappingNode):
            line = root.start_mark.line + 1
            raise SettingsError(
                source, line, "", f"expected sections like 'model:', got {_got(root)}"
            )
        return _Validator(loader, source).settings(root)
    finally:
        loader.dispose()


def load_settings(path: Path) -> Settings:
    """Load and validate config.yaml; a missing or empty file gives the defaults."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read {path}: {reason}; fix the file or its permissions") from exc
    return parse_settings(text, str(path))


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """Plain nested dicts of the settings as config.yaml has them (for printing and
    JSON): every platform's section at the top level, with its defaults if absent."""
    return {name: _plain(_top(settings, name)) for name in section_names()}


def _plain(value: Any) -> Any:
    is_instance = dataclasses.is_dataclass(value) and not isinstance(value, type)
    return dataclasses.asdict(value) if is_instance else value


def _top(settings: Settings, name: str) -> Any:
    """The top-level section NAME of SETTINGS (a platform's: its defaults if absent)."""
    from hermes import platforms
    from hermes.platforms.spec import section

    if name in _sections():
        return getattr(settings, name)
    declared = platforms.find(name)
    if declared is None or declared.settings is None:
        raise ConfigError(_unknown("", name, section_names()))
    return section(settings, declared)


def get_dotted(settings: Settings, key: str) -> Any:
    """The value at a dotted KEY such as 'model.provider'; unknown keys are ConfigErrors."""
    first, _, rest = key.partition(".")
    current: Any = _top(settings, first)
    done = first
    for part in rest.split(".") if rest else []:
        if dataclasses.is_dataclass(current) and not isinstance(current, type):
            valid = [f.name for f in dataclasses.fields(current)]
            if part not in valid:
                raise ConfigError(_unknown(done, part, valid))
            current = getattr(current, part)
        elif isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, dict):
            has = ", ".join(map(str, current)) or "nothing"
            raise ConfigError(f"no key '{_join(done, part)}' ({done} has: {has})")
        else:
            raise ConfigError(f"'{done}' is a single value; it has no key '{part}'")
        done = _join(done, part)
    return current


def apply_env_overrides(settings: Settings, env: Mapping[str, str]) -> Settings:
    """Apply settings that the environment overrides (HERMES_BACKGROUND_NOTIFICATIONS)."""
    value = env.get("HERMES_BACKGROUND_NOTIFICATIONS", "").strip()
    if not value:
        return settings
    choices = get_args(_hints(type(settings.display))["background_process_notifications"])
    if value not in choices:
        raise ConfigError(
            f"HERMES_BACKGROUND_NOTIFICATIONS: {value!r} is not one of {', '.join(choices)}; "
            "fix it in the environment or the home's .env"
        )
    chosen: Any = value  # checked against the Literal above
    display = dataclasses.replace(settings.display, background_process_notifications=chosen)
    return dataclasses.replace(settings, display=display)
