"""Reading YAML files: safe loading that remembers key lines and rejects duplicate keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import CollectionNode, MappingNode, Node

from runner.errors import DefinitionError

_MERGE_TAG = "tag:yaml.org,2002:merge"
_HINTS = {
    "@": 'quote values that start with @, e.g. schedule: "@daily"',
    "\t": "indent YAML with spaces, not tabs",
    "`": "quote values that start with a backquote",
}
_BOOL_TAG = "tag:yaml.org,2002:bool"
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")

MAX_YAML_BYTES = 16 * 1024 * 1024
"""The largest YAML file read: definitions and settings are small."""
MAX_YAML_NODES = 1_000_000
"""The most values a document may hold once its aliases are expanded. A few hundred bytes
of nested aliases ("billion laughs") otherwise expand to gigabytes when read."""

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlMapping(dict[Any, Any]):
    """A mapping read from YAML that knows its own line and the line of each key (1-based)."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: object) -> int:
        """The line of ``key``, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)


class LineLoader(_Base):  # type: ignore[valid-type,misc]  # the C loader when libyaml is there
    """A SafeLoader whose mappings are YamlMappings and which rejects duplicate keys."""

    def __init__(self, stream: str, source: str) -> None:
        super().__init__(stream)
        self.source = source

    def check_duplicates(self, node: MappingNode) -> None:
        """Raise DefinitionError naming file and line if a key appears twice in ``node``."""
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key; construct_mapping reports it
                continue
            line = key_node.start_mark.line + 1
            if first is not None:
                raise DefinitionError(
                    f"{self.source}:{line}: duplicate key {key!r} (first defined on line {first})"
                )
            seen[key] = line


def _construct_mapping(loader: LineLoader, node: Node) -> Iterator[YamlMapping]:
    assert isinstance(node, MappingNode)
    mapping = YamlMapping(node.start_mark.line + 1)
    yield mapping
    loader.check_duplicates(node)
    mapping.update(loader.construct_mapping(node, deep=True))
    # construct_mapping flattened merge keys (<<) into node.value: merged keys first, then
    # the mapping's own, so a key's own line wins over the line it was merged from.
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
# YAML 1.2 booleans: only true/false. With YAML 1.1's yes/no/on/off an env var named ON,
# or the country code NO, would silently turn into a boolean.
LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in LineLoader.yaml_implicit_resolvers.items()
}
LineLoader.add_implicit_resolver(_BOOL_TAG, _BOOL, list("tTfF"))


def read_yaml(path: Path) -> object:
    """Parse one YAML document from ``path``; errors are DefinitionErrors naming file:line."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_YAML_BYTES + 1)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{path}: cannot read: {exc}") from None
    if len(data) > MAX_YAML_BYTES:
        raise DefinitionError(f"{path}: larger than {MAX_YAML_BYTES // 2**20} MiB: not read")
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> object:
    """Parse one YAML document from ``text``; ``source`` names it in error messages."""
    loader = LineLoader(text, source)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, source)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise DefinitionError(_describe(exc, source, text)) from None
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{source}: invalid YAML: {exc}") from None
    except RecursionError:
        raise DefinitionError(f"{source}: YAML nested too deeply: not read") from None
    finally:
        loader.dispose()


def _check_expansion(root: Node, source: str) -> None:
    """Refuse a document whose aliases expand past ``MAX_YAML_NODES`` values, or loop."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in open_nodes:
            raise DefinitionError(
                f"{source}:{node.start_mark.line + 1}: a YAML alias refers to itself"
            )
        total = 1
        if isinstance(node, CollectionNode):
            open_nodes.add(id(node))
            children = (
                [part for pair in node.value for part in pair]
                if isinstance(node, MappingNode)
                else node.value
            )
            for child in children:
                total += size(child)
                if total > MAX_YAML_NODES:
                    raise DefinitionError(
                        f"{source}:{node.start_mark.line + 1}: YAML aliases expand to more than "
                        f"{MAX_YAML_NODES:,} values: not read"
                    )
            open_nodes.discard(id(node))
        sizes[id(node)] = total
        return total

    size(root)


def _describe(exc: yaml.MarkedYAMLError, source: str, text: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{source}:{mark.line + 1}" if mark is not None else source
    problem = exc.problem or exc.context or "syntax error"
    message = f"{where}: invalid YAML: {problem}"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += f" ({exc.context} on line {exc.context_mark.line + 1})"
    hint = _HINTS.get(_character_at(text, exc.problem_mark)) if "character" in problem else None
    return f"{message}; {hint}" if hint else message


def _character_at(text: str, mark: yaml.Mark | None) -> str:
    lines = text.splitlines()
    if mark is None or mark.line >= len(lines) or mark.column >= len(lines[mark.line]):
        return ""
    return lines[mark.line][mark.column]


def to_plain(value: object) -> Any:
    """``value`` with every YamlMapping turned into a plain dict (for values handed to code)."""
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    return value
