"""Every simple command a shell command line would run, found with a real bash grammar.

Approving `git status && $(echo rm) -rf ~` must not look like approving
`git status`, so the whole tree is walked: lists, pipelines, subshells, groups,
control flow, function bodies and every `$(...)`, backtick and `<(...)`. Words
are unquoted and expanded the way bash does it as far as their value is known
(hermes/risk/shell_words.py), wrappers are peeled off (hermes/risk/wrappers.py),
programs that carry code in their arguments are read (hermes/risk/carriers.py,
hermes/risk/git_code.py), and code handed to a shell or another language as a
string is parsed in turn (hermes/risk/languages.py). Functions are walked again
at each call with their arguments bound. What cannot be a `Command` (a fork
bomb's shape, a download piped into `sh`) becomes a finding.
"""

from __future__ import annotations

import re
from dataclasses import replace

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from hermes.risk import feeds, words
from hermes.risk.env_code import env_code
from hermes.risk.model import Assessment, Command
from hermes.risk.rules_secrets import environment_filter
from hermes.risk.shell_code import CodeMixin
from hermes.risk.shell_words import MAX_NESTING, TOO_DEEP, Ctx, Script, Word, nested
from hermes.risk.wrappers import Argv

__all__ = ["Script", "parse"]

MAX_LEVELS = 200  # depth of the syntax tree
MAX_VISITS = 20_000  # nodes walked in all (brace expansions and parallel multiply work)
MAX_ALTERNATIVES = 4  # commands judged per possible value of `${X:-default}`

_parser: Parser | None = None
# a brace expansion where a command starts, which the grammar mistakes for a `{ ...; }` group
_BRACE_WORD = re.compile(
    r"((?:^|[;&|(\n]|\b(?:then|do|else|if|while|until|time)\s)\s*)\{(?=[^\s{}]*(?:,|\.\.)[^\s{}]*\})"
)


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


class _Walker(CodeMixin):
    def __init__(self) -> None:
        super().__init__()
        self.mains: dict[int, Command] = {}  # id of a command node -> the command it runs
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
        if root.has_error and _BRACE_WORD.search(text):  # `{rm,-rf,/}` is a word, not a group
            text = _BRACE_WORD.sub(r'\1""{', text)
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
            self.stages(n.named_children, ctx, key=n.id)
        elif kind == "redirected_statement":
            self.redirected(n, ctx)
        elif kind == "function_definition":
            self.function(n, ctx)
        elif kind == "variable_assignment":
            self.assignment(n, ctx)
        elif kind == "for_statement":
            self.loop(n, ctx)
        elif kind == "unset_command":  # `unset X`: its value is no longer what was assigned
            for c in n.named_children:
                self.forget(words.text(c.text))
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

    def simple(self, n: Node, ctx: Ctx, extra: tuple[str, ...] = ()) -> None:
        found: list[Word] = []
        redirects, stdin = list(ctx.redirects), list(ctx.stdin)
        for c in n.named_children:
            if c.type == "variable_assignment":
                self.prefix_assignment(c, ctx)
            elif c.type.endswith("redirect"):
                self.redirect(c, ctx, redirects, stdin, [])
            elif c.type == "command_name":
                found.extend(self.word(w, ctx) for w in c.named_children)
            else:
                found.append(self.word(c, ctx))
        found += [Word([w], False, []) for w in extra]
        main = self.words(found, replace(ctx, redirects=tuple(redirects), stdin=tuple(stdin)))
        if main is not None:
            self.mains[n.id] = main
            text = feeds.printed(main, "".join(stdin) if stdin else None)
            if text is not None:
                self.outputs[n.id] = text
                self.remember(main, text)

    def prefix_assignment(self, c: Node, ctx: Ctx) -> None:
        """`NAME=value cmd`: the value is read (substitutions run); code in it is judged."""
        name, value = c.child_by_field_name("name"), c.child_by_field_name("value")
        if value is not None:
            word = self.word(value, ctx, split=False)
            self.env(words.text(name.text) if name is not None else "", word, ctx)

    def env(self, name: str, word: Word, ctx: Ctx) -> None:
        code, finding = env_code(name, word.texts[0] if word.texts else "", word.dynamic)
        self.find(finding)
        if code:
            self.script(code, replace(nested(ctx), via=(*ctx.via, name)))

    def words(self, found: list[Word], ctx: Ctx) -> Command | None:
        argv = tuple(t for w in found for t in w.texts)
        subs = [s for w in found for s in w.subs]
        dynamic = any(w.dynamic for w in found)
        computed = bool(found) and found[0].computed and bool(found[0].texts)
        self.unknown = frozenset(t for w in found if w.dynamic for t in w.texts)
        main = self.emit(argv, dynamic, subs, ctx, computed)
        alternatives = 0
        for i, w in enumerate(found):
            for alt in w.alts:
                if alternatives >= MAX_ALTERNATIVES:
                    return main
                alternatives += 1
                other = [t for x in found[:i] for t in x.texts] + alt
                other += [t for x in found[i + 1 :] for t in x.texts]
                self.emit(tuple(other), dynamic, subs, ctx, computed)
        return main

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
            self.stages(body.named_children, ctx, {len(body.named_children) - 1: inner}, n.id)
        elif body is None:
            self.out.commands.append(
                Command((), inner.redirects, ctx.piped_in, False, ctx.via, ctx.container)
            )
        elif body.type == "command":
            self.simple(body, inner, _dropped(n, body))
            if body.id in self.outputs:
                self.outputs[n.id] = self.outputs[body.id]
        else:
            self.node(body, inner)
        for statement in tail:
            self.node(statement, ctx)

    # what a command runs

    def emit(
        self,
        argv: Argv,
        dynamic: bool,
        subs: list[Command],
        ctx: Ctx,
        computed: bool = False,
    ) -> Command | None:
        if not argv:
            return None
        original = self.renamed.get(argv[0].removeprefix("./")) if "/" in argv[0] else None
        if original is not None and original.rpartition("/")[2]:
            argv = (original, *argv[1:])  # `cp /bin/rm ./x; ./x -rf ~` runs rm
        if computed and "$" not in argv[0]:
            self.find(Assessment("medium", f"runs a program whose name is computed ({argv[0]})"))
        self.builtin(argv, ctx, dynamic)
        self.expand_alias(argv, ctx)
        u = self.unwrap(argv)
        if u is not None:
            self.unwrapped(argv, u, dynamic, subs, ctx)
            # a function of that name (`docker(){ "$@"; }`) may run instead: judged too
            self.call(argv, ctx)
            return None
        if "$" in argv[0] or "`" in argv[0]:
            self.find(
                feeds.code_finding(subs, "code")
                or Assessment("medium", f"runs a program computed at run time ({argv[0]})")
            )
        cmd = self.record(argv, dynamic, ctx)
        self.call(argv, ctx)
        return cmd

    # pipelines and functions

    def stages(
        self, nodes: list[Node], ctx: Ctx, own: dict[int, Ctx] | None = None, key: int = 0
    ) -> None:
        """A pipeline's stages; `own` holds a stage's context with the redirections
        the grammar attached to the whole pipeline (`cat <<EOF | sh`, `a | b > f`)."""
        stages: list[list[Command]] = []
        mains: list[Command | None] = []
        for i, stage in enumerate(nodes):
            start = len(self.out.commands)
            text = feeds.literal_output(mains, self.heredocs) if mains else None
            items = feeds.items(stages[-1], text) if stages else ()
            mine = (own or {}).get(i)
            stage_ctx = replace(
                mine or ctx, piped_in=ctx.piped_in or i > 0, items=items, piped=text
            )
            if stage.type == "command":
                self.simple(stage, stage_ctx)
            else:
                self.node(stage, stage_ctx)
            stages.append(self.out.commands[start:])
            mains.append(self.main(stage))
            upstream = [c for s in stages[:-1] for c in s]
            for cmd in stages[-1] if i else []:
                if text is not None and cmd.piped_in:
                    self.out.inputs.append((cmd, text))
                    if cmd.name == "tee":
                        self.remember(cmd, text)
                self.find(environment_filter(upstream, cmd) if cmd.piped_in else None)
                reader = feeds.code_reader(cmd) if cmd.piped_in else None
                lang = feeds.stdin_language(cmd) if cmd.piped_in else None
                if lang is None:
                    continue
                finding = feeds.source_finding(upstream, reader) if reader else None
                self.find(finding)
                if text is not None:
                    self.run_code(lang, text, replace(nested(ctx), via=(*cmd.via, cmd.name)))
                elif reader and finding is None and not feeds.local_file(upstream):
                    self.find(Assessment("medium", f"pipes generated commands into {reader}"))
        full = feeds.literal_output(mains, self.heredocs)
        if key and full is not None:
            self.outputs[key] = full

    def main(self, stage: Node) -> Command | None:
        """The command a pipeline stage runs, if the stage is one command."""
        if stage.type == "redirected_statement":
            body = stage.child_by_field_name("body")
            return self.mains.get(body.id) if body is not None else None
        return self.mains.get(stage.id)


def _dropped(statement: Node, body: Node) -> tuple[str, ...]:
    """A lone `-` before a here-document (`make -f - <<EOF`), which the grammar drops."""
    source, base = statement.text or b"", statement.start_byte
    gap = source[body.end_byte - base :].split(b"<<", 1)[0]
    return ("-",) if re.fullmatch(rb"\s+-\s+", gap) else ()


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
