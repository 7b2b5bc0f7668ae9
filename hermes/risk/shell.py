"""Every simple command a shell command line would run, found with a real bash grammar.

Approving `git status && $(echo rm) -rf ~` must not look like approving
`git status`, so the whole tree is walked: lists, pipelines, subshells, groups,
control flow, function bodies and every `$(...)`, backtick and `<(...)`. Words
are unquoted the way bash does it (`r''m`, `\\rm`, `$'\\x72m'` all give `rm`),
wrappers are peeled off (hermes/risk/wrappers.py), and code handed to a shell
or interpreter as a string is parsed in turn. What cannot be a `Command`
(a fork bomb's shape, a download piped into `sh`) becomes a finding.
"""

from __future__ import annotations

import re
from dataclasses import replace

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from hermes.risk import feeds, interpreters, words
from hermes.risk.model import Assessment, Command
from hermes.risk.shell_words import Ctx, Script, Word, WordReader, nested
from hermes.risk.wrappers import ITEM, SHELLS, Unwrapped, language, unwrap

__all__ = ["Script", "parse"]

MAX_NESTING = 12  # code within code: $(...), bash -c, eval, wrappers
MAX_LEVELS = 200  # depth of the syntax tree
MAX_VISITS = 20_000  # nodes walked in all (brace expansions and parallel multiply work)
TOO_DEEP = Assessment("medium", "too deeply nested to check")

_parser: Parser | None = None


def parse(command: str) -> Script:
    """Parse `command`; never raises on bad syntax (what parses is still returned)."""
    walker = _Walker()
    walker.script(command, Ctx())
    return walker.out


def _root(text: str) -> Node:
    global _parser
    if _parser is None:
        _parser = Parser(Language(tree_sitter_bash.language()))
    return _parser.parse(text.encode("utf-8", "surrogateescape")).root_node


class _Walker(WordReader):
    def __init__(self) -> None:
        super().__init__()
        self.heredocs: dict[int, str] = {}  # id(command) -> the here-document it reads
        self.visits = 0
        self.stopped = False

    def find(self, found: Assessment | None) -> None:
        if found is not None and found not in self.out.findings:
            self.out.findings.append(found)

    def stop(self, why: Assessment) -> None:
        self.find(why)
        self.stopped = True

    def script(self, text: str, ctx: Ctx) -> None:
        if ctx.nesting > MAX_NESTING:
            return self.stop(TOO_DEEP)
        root = _root(text)
        before = len(self.out.commands)
        self.node(root, ctx)
        if root.has_error and len(self.out.commands) == before and text.strip():
            self.find(Assessment("medium", "could not parse the command"))

    def node(self, n: Node, ctx: Ctx) -> None:
        self.visits += 1
        if self.stopped or ctx.level > MAX_LEVELS or self.visits > MAX_VISITS:
            return self.stop(TOO_DEEP)
        ctx = replace(ctx, level=ctx.level + 1)
        kind = n.type
        if kind == "command":
            self.simple(n, ctx)
        elif kind == "pipeline":
            self.stages(n.named_children, ctx)
        elif kind == "redirected_statement":
            self.redirected(n, ctx)
        elif kind == "function_definition":
            self.function(n, ctx)
        elif kind == "variable_assignment":
            self.assignment(n, ctx)
        elif kind == "list":
            for item in _flatten(n):
                self.node(item, ctx)
        elif kind in ("command_substitution", "process_substitution"):
            if ctx.nesting >= MAX_NESTING:
                return self.stop(TOO_DEEP)
            self.children(n, nested(ctx))
        elif kind not in ("comment", "heredoc_body", "heredoc_start", "heredoc_end"):
            self.children(n, ctx)

    # simple commands and their words

    def simple(self, n: Node, ctx: Ctx) -> None:
        found: list[Word] = []
        redirects, stdin = list(ctx.redirects), list(ctx.stdin)
        for c in n.named_children:
            if c.type == "variable_assignment":
                value = c.child_by_field_name("value")
                if value is not None:
                    self.word(value, ctx)
            elif c.type.endswith("redirect"):
                self.redirect(c, ctx, redirects, stdin, [])
            elif c.type == "command_name":
                found.extend(self.word(w, ctx) for w in c.named_children)
            else:
                found.append(self.word(c, ctx))
        self.words(found, replace(ctx, redirects=tuple(redirects), stdin=tuple(stdin)))

    def words(self, found: list[Word], ctx: Ctx) -> None:
        argv = tuple(t for w in found for t in w.texts)
        subs = [s for w in found for s in w.subs]
        self.emit(argv, any(w.dynamic for w in found), subs, ctx)

    def redirected(self, n: Node, ctx: Ctx) -> None:
        redirects, stdin = list(ctx.redirects), list(ctx.stdin)
        tail: list[Node] = []
        for r in n.children_by_field_name("redirect"):
            self.redirect(r, ctx, redirects, stdin, tail)
        inner = replace(ctx, redirects=tuple(redirects), stdin=tuple(stdin))
        body = n.child_by_field_name("body")
        if body is not None and tail and tail[0].type == "pipeline":
            later, rest = _continuation(tail[0])
            self.stages([body, *later], ctx, {0: inner})
            tail = rest + tail[1:]
        elif body is not None and body.type == "pipeline":
            self.stages(body.named_children, ctx, {len(body.named_children) - 1: inner})
        elif body is None:
            self.out.commands.append(Command((), inner.redirects, ctx.piped_in, False, ctx.via))
        elif body.type == "command":
            self.simple(body, inner)
        else:
            self.node(body, inner)
        for statement in tail:
            self.node(statement, ctx)

    # what a command runs

    def emit(self, argv: tuple[str, ...], dynamic: bool, subs: list[Command], ctx: Ctx) -> None:
        u = unwrap(argv) if argv else None
        if u is not None:
            return self.unwrapped(argv, u, dynamic, subs, ctx)
        if not argv:
            return
        if "$" in argv[0] or "`" in argv[0]:
            self.find(
                feeds.code_finding(subs, "code")
                or Assessment("medium", f"runs a program computed at run time ({argv[0]})")
            )
        dynamic = dynamic or any(ITEM in a for a in argv)
        cmd = Command(argv, ctx.redirects, ctx.piped_in, dynamic, ctx.via)
        self.out.commands.append(cmd)
        if ctx.stdin:
            self.heredocs[id(cmd)] = "\n".join(ctx.stdin)
            self.out.inputs.append((cmd, self.heredocs[id(cmd)]))
        self.fed_code(cmd, ctx)

    def unwrapped(
        self, argv: tuple[str, ...], u: Unwrapped, dynamic: bool, subs: list[Command], ctx: Ctx
    ) -> None:
        """What a wrapper (`sudo`, `xargs`, `bash -c`, ...) runs, found in turn."""
        if ctx.nesting >= MAX_NESTING:
            return self.stop(TOO_DEEP)
        via = ctx.via + ((u.via,) if u.via else ())
        if u.keep or (ctx.redirects and not u.argvs) or not (u.argvs or u.scripts or u.code):
            self.out.commands.append(Command(argv, ctx.redirects, ctx.piped_in, dynamic, ctx.via))
        piped = ctx.piped_in or u.piped_in
        if u.scripts or u.code:
            self.find(feeds.code_finding(subs, "code"))
        for script in u.scripts:
            self.script(script, replace(nested(ctx), via=via, piped_in=piped))
        if u.code:
            self.code(u.code[0], u.code[1], replace(nested(ctx), via=via, piped_in=piped))
        argvs = feeds.fill(u.argvs, ctx.items) if u.piped_in and ctx.items else u.argvs
        inner = replace(ctx, via=via, piped_in=piped, nesting=ctx.nesting + 1, items=())
        for each in argvs:
            self.emit(each, dynamic, subs, inner)

    def fed_code(self, cmd: Command, ctx: Ctx) -> None:
        """Code a shell or interpreter gets from a here-document or `<(...)`."""
        reader = feeds.code_reader(cmd)
        for text in ctx.stdin if reader else ():
            self.run_code(cmd, text, ctx)
        sources = [feeds.script_arg(cmd) or ""]
        sources += [t for op, t in cmd.redirects if op == "<" and reader]
        for source in sources:
            if source.startswith("<("):
                what = f"{cmd.name if cmd.name in SHELLS or language(cmd.name) else 'shell'} code"
                self.find(
                    feeds.code_finding(self.procsubs.get(source, []), what)
                    or Assessment("medium", f"runs {what} generated at run time")
                )

    def run_code(self, cmd: Command, text: str, ctx: Ctx) -> None:
        inner = replace(nested(ctx), via=(*cmd.via, cmd.name))
        lang = language(cmd.name)
        if lang is not None:
            self.code(lang, text, inner)
        elif cmd.name in SHELLS or feeds.program(cmd) in ("source", "."):
            self.script(text, inner)

    def code(self, lang: str, text: str, ctx: Ctx) -> None:
        snippets, found = interpreters.shell_outs(lang, text)
        for f in found:
            self.find(f)
        for snippet in snippets:
            self.script(snippet, ctx)

    # pipelines, functions, variables

    def stages(self, nodes: list[Node], ctx: Ctx, own: dict[int, Ctx] | None = None) -> None:
        """A pipeline's stages; `own` holds a stage's context with the redirections
        the grammar attached to the whole pipeline (`cat <<EOF | sh`, `a | b > f`)."""
        stages: list[list[Command]] = []
        for i, stage in enumerate(nodes):
            start = len(self.out.commands)
            text = feeds.literal_output(stages, self.heredocs) if stages else None
            items = feeds.items(stages[-1], text) if stages else ()
            mine = (own or {}).get(i)
            stage_ctx = replace(mine or ctx, piped_in=ctx.piped_in or i > 0, items=items)
            if mine is not None and stage.type == "command":
                self.simple(stage, stage_ctx)
            else:
                self.node(stage, stage_ctx)
            stages.append(self.out.commands[start:])
            upstream = [c for s in stages[:-1] for c in s]
            for cmd in stages[-1] if i else []:
                if text is not None and cmd.piped_in:
                    self.out.inputs.append((cmd, text))
                reader = feeds.code_reader(cmd) if cmd.piped_in else None
                if reader is None:
                    continue
                finding = feeds.source_finding(upstream, reader)
                self.find(finding)
                if text is not None:
                    self.run_code(cmd, text, ctx)
                elif finding is None and not feeds.local_file(upstream):
                    self.find(Assessment("medium", f"pipes generated commands into {reader}"))

    def function(self, n: Node, ctx: Ctx) -> None:
        name_node, body = n.child_by_field_name("name"), n.child_by_field_name("body")
        if body is None:
            return
        start = len(self.out.commands)
        self.node(body, ctx)
        name = words.text(name_node.text) if name_node is not None else ""
        calls = [c for c in self.out.commands[start:] if c.argv[:1] == (name,)]
        if len(calls) >= 2 or (calls and re.search(rb"[^&]&(?!&)|[^|]\|(?!\|)", body.text or b"")):
            self.find(Assessment("hard", f"defines a fork bomb (function {name} spawns itself)"))

    def assignment(self, n: Node, ctx: Ctx) -> None:
        name, value = n.child_by_field_name("name"), n.child_by_field_name("value")
        key = words.text(name.text) if name is not None else ""
        word = self.word(value, ctx) if value is not None else Word([""], False, [])
        if word.dynamic or len(word.texts) != 1:
            self.vars.pop(key, None)
        else:
            self.vars[key] = word.texts[0]


def _continuation(pipeline: Node) -> tuple[list[Node], list[Node]]:
    """The stages after `cat <<EOF` and the statements after the pipeline, from
    the pipeline the grammar nests inside the here-document redirect."""
    stages: list[Node] = []
    rest: list[Node] = []
    for c in pipeline.named_children:
        if c.type == "list":
            head, *more = _flatten(c)
            stages += head.named_children if head.type == "pipeline" else [head]
            rest += more
        else:
            stages.append(c)
    return stages, rest


def _flatten(n: Node) -> list[Node]:
    """A left-nested `a && b || c` list as its items, without recursing."""
    items: list[Node] = []
    while n.type == "list" and n.named_children:
        items[0:0] = n.named_children[1:]
        n = n.named_children[0]
    return [n, *items]
