"""What a command line teaches the parser about the commands that follow it.

Bash keeps state between commands, and so does the walker, as far as it is
literal: variables and arrays (`X=/`, `a=(rm -rf /)`, `read -r x <<< ...`,
`printf -v x ...`), positional parameters (`set -- ...`, `shift`, and each
call of a shell function, whose body is walked again with its arguments
bound), `for` loops over literal words (the body is walked once per word),
aliases and git aliases defined earlier on the same line.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import replace

from tree_sitter import Node

from hermes.risk import expand, words
from hermes.risk.model import Assessment
from hermes.risk.shell_words import MAX_NESTING, TOO_DEEP, Ctx, Word, WordReader, nested
from hermes.risk.wrappers import Argv

MAX_LOOP_WORDS = 8
MAX_LOOP_WALKS = 32  # loop bodies walked per value, in all (nested loops multiply)


class StateMixin(WordReader):
    """The state-keeping half of the walker; `script`, `find`, `stop` and `env` are the walker's."""

    def __init__(self) -> None:
        super().__init__()
        self.functions: dict[str, Node] = {}
        self.calling: list[str] = []
        self.aliases: dict[str, str] = {}
        self.git_aliases: dict[str, str] = {}
        self.loop_walks = 0
        self.renamed: dict[str, str] = {}  # a copy or link of a file -> the file (cp /bin/rm x)

    def script(self, text: str, ctx: Ctx) -> None:
        raise NotImplementedError

    def find(self, found: Assessment | None) -> None:
        raise NotImplementedError

    def stop(self, why: Assessment) -> None:
        raise NotImplementedError

    def env(self, name: str, word: Word, ctx: Ctx) -> None:
        raise NotImplementedError

    # definitions

    def function(self, n: Node, ctx: Ctx) -> None:
        """A definition runs nothing: the body is judged at each call. It is walked
        here only to see whether it calls itself in a pipe or the background (a fork bomb)."""
        name_node, body = n.child_by_field_name("name"), n.child_by_field_name("body")
        if body is None:
            return
        out = self.out
        marks = (len(out.commands), len(out.findings), len(out.inputs))
        saved = dict(self.vars)
        self.node(body, ctx)
        name = words.text(name_node.text) if name_node is not None else ""
        calls = [c for c in out.commands[marks[0] :] if c.argv[:1] == (name,)]
        del out.commands[marks[0] :], out.findings[marks[1] :], out.inputs[marks[2] :]
        self.vars = saved
        if len(calls) >= 2 or (calls and re.search(rb"[^&]&(?!&)|[^|]\|(?!\|)", body.text or b"")):
            self.find(Assessment("hard", f"defines a fork bomb (function {name} spawns itself)"))
        self.functions[name] = body

    def call(self, argv: Argv, ctx: Ctx) -> None:
        """A call of a function defined earlier: its body runs with $1.. bound to the arguments."""
        body = self.functions.get(argv[0])
        if body is None or argv[0] in self.calling:
            return
        if ctx.nesting >= MAX_NESTING:
            return self.stop(TOO_DEEP)
        saved, self.params = self.params, list(argv[1:])
        self.calling.append(argv[0])
        try:
            self.node(body, replace(ctx, nesting=ctx.nesting + 1))
        finally:
            self.calling.pop()
            self.params = saved

    def assignment(self, n: Node, ctx: Ctx) -> None:
        name, value = n.child_by_field_name("name"), n.child_by_field_name("value")
        key = words.text(name.text) if name is not None else ""
        append = any(c.type == "+=" for c in n.children)
        if value is not None and value.type == "array":
            found = [self.word(c, ctx) for c in value.named_children]
            items = [t for w in found for t in w.texts]
            if any(w.dynamic for w in found) or not re.fullmatch(r"\w+", key):
                self.forget(key)
            else:
                before = self.vars.get(key, []) if append else []
                self.vars[key] = (before if isinstance(before, list) else [before]) + items
            return
        word = self.word(value, ctx, split=False) if value is not None else Word([""], False, [])
        text = word.texts[0] if word.texts else ""
        if word.dynamic or not re.fullmatch(r"\w+", key):
            self.forget(key)
        else:
            before = self.vars.get(key, "") if append else ""
            self.vars[key] = (before if isinstance(before, str) else " ".join(before)) + text
        self.env(key, word, ctx)  # `export PAGER=...`: what later programs run

    def loop(self, n: Node, ctx: Ctx) -> None:
        """`for VAR in WORDS`: the body is walked once per literal word."""
        var, body = n.child_by_field_name("variable"), n.child_by_field_name("body")
        if var is None or body is None:
            return self.children(n, ctx)
        key = words.text(var.text)
        values = n.children_by_field_name("value")
        found = [self.word(v, ctx) for v in values]
        items = [t for w in found for t in w.texts] if values else list(self.params or [])
        dynamic = any(w.dynamic for w in found) or (not values and self.params is None)
        self.loop_walks += len(items)
        if dynamic or not items or len(items) > MAX_LOOP_WORDS or self.loop_walks > MAX_LOOP_WALKS:
            self.forget(key)
            return self.node(body, ctx)
        for item in items:
            self.vars[key] = item
            self.node(body, ctx)

    # builtins that change what later words expand to

    def builtin(self, argv: Argv, ctx: Ctx, dynamic: bool = False) -> None:
        name, args = argv[0], list(argv[1:])
        if name == "set" and args and (args[0] == "--" or not args[0].startswith(("-", "+"))):
            self.params = None if dynamic else args[1:] if args[0] == "--" else args
        elif name == "shift" and self.params is not None:
            count = int(args[0]) if args and args[0].isdigit() else 1
            self.params = self.params[count:]
        elif name == "unset":
            for arg in args:
                if "-f" in args:
                    self.functions.pop(arg, None)
                else:
                    self.forget(arg)
        elif name == "alias":
            for arg in args:
                alias, eq, value = arg.partition("=")
                if eq:
                    self.aliases[alias] = value
        elif name == "unalias":
            for arg in args:
                self.aliases.pop(arg, None)
        elif name == "read":
            self.read(args, ctx, dynamic)
        elif name in ("cp", "ln", "install", "mv"):
            pos = [a for a in args if not a.startswith("-")]
            if len(pos) == 2 and not pos[1].endswith("/"):  # the program under another name
                self.renamed[pos[1].removeprefix("./")] = pos[0]
        elif name == "printf" and args[:1] == ["-v"] and len(args) > 2:
            text = expand.printf(args[2:])
            if dynamic or text is None:
                self.forget(args[1])
            else:
                self.vars[args[1]] = text

    def read(self, args: list[str], ctx: Ctx, dynamic: bool) -> None:
        """`read NAMES` from a here-string, here-document or literal pipe."""
        array, names, i = None, [], 0
        while i < len(args):
            if args[i] == "-a" and i + 1 < len(args):
                array, i = args[i + 1], i + 2
            elif args[i] in ("-d", "-p", "-n", "-N", "-t", "-u", "-i") and i + 1 < len(args):
                i += 2
            elif args[i].startswith("-"):
                i += 1
            else:
                names.append(args[i])
                i += 1
        text = "".join(ctx.stdin) if ctx.stdin else ctx.piped
        targets = [array] if array else names or ["REPLY"]
        if text is None or dynamic:
            for target in targets:
                self.forget(target)
            return
        line = text.split("\n", 1)[0]
        fields = expand.fields([(line, "split")], self.ifs())
        if array:
            self.vars[array] = fields
            return
        for k, target in enumerate(names or ["REPLY"]):
            last = k == len(names or ["REPLY"]) - 1
            self.vars[target] = (
                " ".join(fields[k:]) if last else (fields[k] if k < len(fields) else "")
            )

    def expand_alias(self, argv: Argv, ctx: Ctx) -> None:
        """An alias defined earlier on the line is judged as what it stands for."""
        value = self.aliases.get(argv[0])
        if value is not None and argv[0] not in self.calling:
            self.calling.append(argv[0])
            try:
                self.script(value + "".join(" " + shlex.quote(a) for a in argv[1:]), nested(ctx))
            finally:
                self.calling.pop()
