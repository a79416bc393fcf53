"""Plain help for `condor-job-ssh`: arguments shown by their metavar, without typer's type labels.

Typer prints a positional argument as ``{JOB}`` in the usage line and as ``JOB <str>`` (or
``<list[str]>``) in its Arguments section, whatever metavar it was given.  A command made with
``cls=PlainCommand`` shows ``JOB`` in both places, and the argument's help beside it.
"""

from __future__ import annotations

from typing import List

from typer.core import TyperCommand


def _shown(param) -> str:
    return param.metavar or (param.name or "").upper()


class PlainCommand(TyperCommand):
    def collect_usage_pieces(self, ctx) -> List[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_shown(param) if param.required else f"[{_shown(param)}]")
        return pieces

    def format_options(self, ctx, formatter) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name == "argument":
                args.append((_shown(param), param.help or ""))
            elif param.param_type_name == "option":
                record = param.get_help_record(ctx)
                if record is not None:
                    opts.append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)
