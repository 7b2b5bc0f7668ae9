"""What a command hands to other code: wrappers, carriers, code in other languages.

The walker's half that follows a command into what it runs: the commands a
wrapper or a program carrying code runs (hermes/risk/wrappers.py,
hermes/risk/carriers.py, hermes/risk/git_code.py), the code it reads from a
here-document, a process substitution or a file of code, and code in other
languages (hermes/risk/languages.py), all parsed and judged in turn.
"""

from __future__ import annotations

import re
from dataclasses import replace

from hermes.risk import carriers_special, containers, feeds, git_code, languages
from hermes.risk.carriers import STDIN_FILES
from hermes.risk.model import Assessment, Command
from hermes.risk.shell_state import StateMixin
from hermes.risk.shell_words import MAX_NESTING, TOO_DEEP, Ctx, Word, nested
from hermes.risk.wrappers import ITEM, Argv, Unwrapped, language, unwrap


class CodeMixin(StateMixin):
    """Following commands into the code they run; `emit` is the walker's."""

    def __init__(self) -> None:
        super().__init__()
        self.heredocs: dict[int, str] = {}  # id(command) -> the here-document it reads
        self.unknown: frozenset[str] = frozenset()  # the words of the current command not known
        self.written: dict[str, str] = {}  # files written earlier with literal text -> the text

    def emit(
        self,
        argv: Argv,
        dynamic: bool,
        subs: list[Command],
        ctx: Ctx,
        computed: bool = False,
    ) -> Command | None:
        raise NotImplementedError

    def unwrap(self, argv: Argv) -> Unwrapped | None:
        """What a wrapper, or a program carrying code in its arguments, runs."""
        u = unwrap(argv)
        if u is None and argv[0].rpartition("/")[2] == "git":
            self.git_aliases.update(git_code.aliases_set(argv))
            u = git_code.unwrap_git(argv, self.git_aliases)
        return u if u is not None else carriers_special.carried(argv) or containers.unwrap(argv)

    def unwrapped(
        self, argv: Argv, u: Unwrapped, dynamic: bool, subs: list[Command], ctx: Ctx
    ) -> None:
        """What a wrapper (`sudo`, `xargs`, `bash -c`, `tar --to-command`...) runs, in turn."""
        if ctx.nesting >= MAX_NESTING:
            return self.stop(TOO_DEEP)
        unknown = self.unknown
        via = ctx.via + ((u.via,) if u.via else ())
        runs = u.argvs or u.scripts or u.codes or u.files or u.findings
        if u.keep:
            self.record(argv, dynamic, ctx)
        elif (ctx.redirects and not u.argvs) or not runs:
            self.out.commands.append(
                Command(argv, ctx.redirects, ctx.piped_in, dynamic, ctx.via, ctx.container)
            )
        piped = ctx.piped_in or u.piped_in
        box = u.container or (None if containers.leaves(argv, ctx.container) else ctx.container)
        inner = replace(nested(ctx), via=via, piped_in=piped, container=box)
        for finding in u.findings:
            self.find(finding)
        for name, value in u.env:
            self.env(name, Word([value], "$" in value, []), ctx)
        if u.scripts or u.codes:
            self.find(feeds.code_finding(subs, "code"))
        items = self.stdin_items(ctx, u) or ctx.items
        scripts = feeds.fill_scripts(u.scripts, items) if u.piped_in and items else u.scripts
        saved = self.params
        try:
            self.params = u.params if u.params is not None else saved
            for script in scripts:
                self.script(script, inner)
        finally:
            self.params = saved
        for lang, text in u.codes:
            if text in unknown and re.search(r"\$|`", text):
                self.find(Assessment("medium", f"runs {lang} code computed at run time ({text})"))
            self.code(lang, text, inner)
        for lang, path in u.files:
            self.code_file(lang, path, inner)
        argvs = feeds.fill(u.argvs, items) if u.piped_in and items else u.argvs
        deeper = replace(
            ctx, via=via, piped_in=piped, nesting=ctx.nesting + 1, items=(), container=box
        )
        for each in argvs:
            self.emit(each, dynamic, subs, deeper)

    def record(self, argv: Argv, dynamic: bool, ctx: Ctx) -> Command:
        """A command the rules judge, with the here-document it reads and the code fed to it."""
        dynamic = dynamic or any(ITEM in a for a in argv)
        cmd = Command(argv, ctx.redirects, ctx.piped_in, dynamic, ctx.via, ctx.container)
        self.out.commands.append(cmd)
        if ctx.stdin:
            self.heredocs[id(cmd)] = "".join(ctx.stdin)
            self.out.inputs.append((cmd, self.heredocs[id(cmd)]))
        self.fed_code(cmd, ctx)
        self.run_written(cmd, ctx)
        return cmd

    def stdin_items(self, ctx: Ctx, u: Unwrapped) -> tuple[str, ...]:
        """What xargs/parallel read from a here-string or file given to them, when literal."""
        if not u.piped_in:
            return ()
        text = "".join(ctx.stdin) or ctx.piped or ""
        for lang, path in u.files:
            if lang == "items":
                text += self.procsub_text.get(path, self.written.get(_key(path), "")) + "\n"
        if u.records:  # whole lines (or NUL-separated records), spaces kept
            return tuple(x for x in re.split(r"[\n\0]", text) if x.strip())[:16]
        return tuple(text.split()[:16])

    def remember(self, cmd: Command, text: str) -> None:
        """Files `cmd` writes with the literal `text` (`echo ... > f`, `cat > f <<EOF`, `tee f`)."""
        targets = [(t, op in (">>", "&>>")) for op, t in cmd.redirects if op in _WRITES and t]
        if cmd.name == "tee":
            targets += [(a, "-a" in cmd.args) for a in cmd.args if not a.startswith("-")]
        for target, append in targets:
            key = _key(target)
            self.written[key] = (self.written.get(key, "") if append else "") + text

    def run_written(self, cmd: Command, ctx: Ctx) -> None:
        """A file written earlier on the line, run as a program (`./x.sh`, `/tmp/x`)."""
        text = self.written.get(_key(cmd.argv[0])) if "/" in cmd.argv[0] else None
        if text is not None:
            self.run_code(_shebang(text), text, replace(nested(ctx), via=(*cmd.via, cmd.name)))

    def code_file(self, lang: str, path: str, ctx: Ctx) -> None:
        """A file of code: `<(...)` whose output is known is read; standard input is
        handled where the input is known (fed_code, stages)."""
        if lang == "items" or path in STDIN_FILES:
            return
        if _key(path) in self.written:
            return self.run_code(lang, self.written[_key(path)], ctx)
        if path.startswith("<("):
            text = self.procsub_text.get(path)
            if text is not None:
                return self.run_code(lang, text, ctx)
            self.find(
                feeds.code_finding(self.procsubs.get(path, []), f"{lang} code")
                or Assessment("medium", f"runs {lang} code generated at run time")
            )

    def fed_code(self, cmd: Command, ctx: Ctx) -> None:
        """Code a shell or interpreter gets from a here-document or `<(...)`."""
        lang = feeds.stdin_language(cmd)
        for text in ctx.stdin if lang else ():
            self.run_code(lang or "sh", text, replace(nested(ctx), via=(*cmd.via, cmd.name)))
        sources = [feeds.script_arg(cmd) or ""]
        sources += [t for op, t in cmd.redirects if op == "<" and lang]
        for source in sources:
            if source and _key(source) in self.written:  # a script written earlier on the line
                written = self.written[_key(source)]
                self.run_code(language(cmd.name) or "sh", written, nested(ctx))
            elif source.startswith("<("):
                what = language(cmd.name) or "sh"
                known = self.procsub_text.get(source)
                if known is not None:
                    self.run_code(what, known, replace(nested(ctx), via=(*cmd.via, cmd.name)))
                    continue
                self.find(
                    feeds.code_finding(self.procsubs.get(source, []), f"{what} code")
                    or Assessment("medium", f"runs {what} code generated at run time")
                )

    def run_code(self, lang: str, text: str, ctx: Ctx) -> None:
        if lang == "sh":
            self.script(text, ctx)
        else:
            self.code(lang, text, ctx)

    def code(self, lang: str, text: str, ctx: Ctx) -> None:
        if ctx.nesting > MAX_NESTING:
            return self.stop(TOO_DEEP)
        snippets, found = languages.read(lang, text)
        for f in found:
            self.find(f)
        for snippet in snippets:
            self.script(snippet, ctx)


_WRITES = frozenset({">", ">|", "&>", ">>", "&>>"})


def _key(path: str) -> str:
    return path.removeprefix("./")


def _shebang(text: str) -> str:
    """The language a script's `#!` line names (sh when it names none)."""
    first = text.lstrip().split("\n", 1)[0]
    if not first.startswith("#!"):
        return "sh"
    words = first[2:].split()
    if words and words[0].endswith("/env"):
        words = [w for w in words[1:] if not w.startswith("-")]
    name = words[0].rpartition("/")[2] if words else "sh"
    return language(name) or "sh"
