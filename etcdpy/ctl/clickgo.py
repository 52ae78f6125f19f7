"""click commands that read their arguments the way etcdctl (urfave/cli + Go flag) does.

click keeps the command tree, the help screens and type conversion; before click sees
the arguments, :class:`GoCommand` reorders and parses them with :mod:`etcdpy.ctl.argv`
and hands click a canonical ``--flag=value ... -- positional ...`` list.
"""

from __future__ import annotations

from typing import Any

import click

from etcdpy.ctl.argv import FlagError, FlagKind, FlagSpec, parse, reorder


class Duration(click.ParamType):
    """A Go duration flag (``2s``, ``500ms``, ``1m30s``); the value is in seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float | int):
            return float(value)
        from etcdpy.ctl.argv import parse_duration

        try:
            return parse_duration(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a duration such as 2s or 500ms", param, ctx)


DURATION = Duration()


class CommandNotFound(click.UsageError):
    """An unknown (sub)command name; etcdctl answers ``No help topic for 'x'``, exit 3."""

    def __init__(self, name: str, ctx: click.Context | None = None) -> None:
        super().__init__(f"No help topic for '{name}'", ctx)
        self.name = name


def _kind(param: click.Option) -> FlagKind:
    if param.is_flag:
        return "bool"
    if isinstance(param.type, Duration):
        return "duration"
    if isinstance(param.type, click.types.IntParamType):
        return "int"
    return "string"


def flag_specs(params: list[click.Parameter]) -> tuple[list[FlagSpec], dict[str, str]]:
    """Go spellings of every option, and the click spelling used to pass each back."""
    specs: list[FlagSpec] = []
    spelling: dict[str, str] = {}
    for param in params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        opts = [*param.opts, *param.secondary_opts]
        names = tuple(opt.lstrip("-") for opt in opts)
        specs.append(FlagSpec(names, param.name, _kind(param)))
        spelling[param.name] = max(opts, key=len)
    return specs, spelling


def go_style_args(
    ctx: click.Context, params: list[click.Parameter], args: list[str], *, reorder_first: bool
) -> list[str]:
    specs, spelling = flag_specs(params)
    try:
        if reorder_first:
            args = reorder(specs, args)
        values, rest = parse(specs, args)
    except FlagError as exc:
        raise click.UsageError(str(exc), ctx) from None
    canonical: list[str] = []
    for spec in specs:
        if spec.dest not in values:
            continue
        value = values[spec.dest]
        if spec.kind == "bool":
            if value:
                canonical.append(spelling[spec.dest])
        elif spec.kind == "duration":
            canonical.append(f"{spelling[spec.dest]}={value!r}s")
        else:
            canonical.append(f"{spelling[spec.dest]}={value}")
    if rest:
        canonical += ["--", *rest]
    return canonical


class GoCommand(click.Command):
    """A leaf command: urfave reorders its flags before Go's parser reads them."""

    def __init__(self, *args: Any, arguments_usage: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(*args, **kwargs)
        self.arguments_usage = arguments_usage

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        canonical = go_style_args(ctx, self.get_params(ctx), args, reorder_first=True)
        return super().parse_args(ctx, canonical)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = ["[OPTIONS]"] if self.get_params(ctx) else []
        if self.arguments_usage.strip():
            pieces.append(self.arguments_usage)
        return pieces


class GoGroup(click.Group):
    """A command group: Go parses its flags up to the command name, without reordering."""

    command_class = GoCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        canonical = go_style_args(ctx, self.get_params(ctx), args, reorder_first=False)
        return super().parse_args(ctx, canonical)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        command = self.get_command(ctx, name)
        if command is None:
            raise CommandNotFound(name, ctx)
        return name, command, args[1:]
