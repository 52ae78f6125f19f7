"""Command-line parsing the way etcdctl v2 does it (urfave/cli v1.22 on Go's ``flag``).

etcdctl users write things click alone would read differently: ``-ttl 5`` with one
dash, ``set /k -5`` (a value that merely looks like a flag), ``-r /dir`` where a bool
flag "borrows" the next word during reordering, and ``exec-watch -r /k -- cmd args``
whose key/command split depends on where ``--`` survives.  To behave the same, each
command first runs its raw arguments through :func:`reorder` (urfave's reorderArgs) and
:func:`parse` (Go's ``flag.FlagSet.Parse``), then hands click a canonical argument list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

FlagKind = Literal["bool", "int", "string", "duration"]

_DURATION_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([a-zµμ]+)")


class FlagError(Exception):
    """A command line Go's flag package would refuse; str() is Go's own wording."""


@dataclass(slots=True, frozen=True)
class FlagSpec:
    """One flag: its Go spellings (without dashes), the click parameter, its kind."""

    names: tuple[str, ...]
    dest: str
    kind: FlagKind

    @property
    def takes_value(self) -> bool:
        return self.kind != "bool"


def _lookup(specs: list[FlagSpec], name: str) -> FlagSpec | None:
    for spec in specs:
        if name in spec.names:
            return spec
    return None


def _is_known_flag(specs: list[FlagSpec], arg: str) -> bool:
    # urfave's argIsFlag: strip up to two dashes and an "=value", then look the name up.
    if arg == "-" or not arg.startswith("-"):
        return False
    name = arg[2:] if arg.startswith("--") else arg[1:]
    name = name.split("=", 1)[0]
    return _lookup(specs, name) is not None


def reorder(specs: list[FlagSpec], args: list[str]) -> list[str]:
    """Move known flags (and the word after each) in front of the positionals.

    A bool flag also takes the following non-flag word along, exactly like urfave does;
    Go's parser then stops at that word, so it becomes the first positional again.  The
    first ``--`` is moved to the front of the positionals and everything after it is
    left alone.
    """
    reordered: list[str] = []
    remaining: list[str] = []
    may_be_value = False
    for i, arg in enumerate(args):
        if may_be_value and not _is_known_flag(specs, arg):
            may_be_value = False
            reordered.append(arg)
        elif arg == "--":
            remaining = ["--", *remaining, *args[i + 1 :]]
            break
        elif _is_known_flag(specs, arg):
            reordered.append(arg)
            may_be_value = "=" not in arg
        else:
            remaining.append(arg)
    return reordered + remaining


def parse_bool(text: str) -> bool:
    """Go's strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(text)


def parse_int(text: str) -> int:
    """Go's strconv.ParseInt(text, 0, 64): sign, 0x/0o/0b prefixes, a leading 0 is octal."""
    if not text or text != text.strip():
        raise ValueError(text)
    sign = -1 if text[0] == "-" else 1
    body = text[1:] if text[0] in "+-" else text
    if not body or body[0] in "+-":
        raise ValueError(text)
    if len(body) > 1 and body[0] == "0" and body[1] not in "xXoObB":
        value = int(body[1:].lstrip("_") or "0", 8)
    else:
        value = int(body, 0)
    value *= sign
    if not -(2**63) <= value < 2**63:
        raise ValueError(text)
    return value


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds."""
    body = text
    sign = 1.0
    if body[:1] in ("+", "-"):
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(text)
    total = 0.0
    pos = 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if match is None or (not match.group(1) and not match.group(2)):
            raise ValueError(text)
        unit = _DURATION_UNITS.get(match.group(3))
        if unit is None:
            raise ValueError(text)
        whole = int(match.group(1) or "0")
        frac = float("0." + match.group(2)) if match.group(2) else 0.0
        total += (whole + frac) * unit
        pos = match.end()
    return sign * total


def _convert(spec: FlagSpec, name: str, raw: str) -> object:
    try:
        if spec.kind == "int":
            return parse_int(raw)
        if spec.kind == "duration":
            return parse_duration(raw)
    except ValueError:
        raise FlagError(f'invalid value "{raw}" for flag -{name}: parse error') from None
    return raw


def parse(specs: list[FlagSpec], args: list[str]) -> tuple[dict[str, object], list[str]]:
    """Go's FlagSet.Parse: flags until the first non-flag or ``--``; returns (values, rest).

    Values are keyed by ``FlagSpec.dest`` and already converted (bool, int, seconds, str).
    """
    values: dict[str, object] = {}
    rest = list(args)
    while rest:
        word = rest[0]
        if len(word) < 2 or word[0] != "-":
            break
        minuses = 1
        if word[1] == "-":
            minuses = 2
            if len(word) == 2:
                rest.pop(0)
                break
        name = word[minuses:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {word}")
        rest.pop(0)
        has_value = False
        raw = ""
        eq = name.find("=", 1)
        if eq > 0:
            name, raw, has_value = name[:eq], name[eq + 1 :], True
        spec = _lookup(specs, name)
        if spec is None:
            raise FlagError(f"flag provided but not defined: -{name}")
        if spec.kind == "bool":
            if has_value:
                try:
                    values[spec.dest] = parse_bool(raw)
                except ValueError:
                    raise FlagError(
                        f'invalid boolean value "{raw}" for -{name}: parse error'
                    ) from None
            else:
                values[spec.dest] = True
            continue
        if not has_value:
            if not rest:
                raise FlagError(f"flag needs an argument: -{name}")
            raw = rest.pop(0)
        values[spec.dest] = _convert(spec, name, raw)
    return values, rest
