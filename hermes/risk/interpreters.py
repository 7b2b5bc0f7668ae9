"""What interpreter one-liners (`python -c`, `perl -e`, `node -e`, ...) do to the system.

The code is not shell, so it is read with simple patterns: calls that run a
command (os.system, subprocess, system, backticks, child_process) and calls
that delete or write files (shutil.rmtree, os.remove, fs.rmSync, unlink, ...).
Each is turned into the equivalent shell command, which the shell parser then
classifies like any other: one set of rules judges every way of deleting /etc.
"""

from __future__ import annotations

import ast
import re
import shlex

from hermes.risk import code_dynamic, code_home
from hermes.risk.model import Assessment

COMPUTED = '"$COMPUTED"'  # stands for a value the code computes at run time

# call name -> what it does: run (a command), rm, rmr (recursive), rmdir, write, kill
_CALLS: dict[str, dict[str, str]] = {
    "python": {
        r"os\.(system|popen|exec[lv]p?e?|spawn[lv]p?e?)": "run",
        r"subprocess\.(run|call|check_call|check_output|Popen|getoutput|getstatusoutput)": "run",
        r"(pty\.spawn|commands\.getoutput|\.system|\.popen)": "run",
        r"shutil\.rmtree": "rmr",
        r"(os|\))\.(remove|unlink)": "rm",
        r"os\.(rmdir|removedirs)": "rmdir",
        r"os\.kill": "kill",
    },
    "perl": {
        r"(system|exec|qx)": "run",
        r"(rmtree|remove_tree)": "rmr",
        r"unlink": "rm",
        r"rmdir": "rmdir",
        r"kill": "kill",
    },
    "ruby": {
        r"(system|exec|spawn|IO\.popen|Open3\.\w+|%x)": "run",
        r"FileUtils\.(rm_rf|rm_r|remove_dir|remove_entry\w*|rmtree)": "rmr",
        r"(FileUtils\.(rm_f|rm|remove)|File\.(delete|unlink))": "rm",
        r"(Dir\.(rmdir|delete|unlink)|FileUtils\.rmdir)": "rmdir",
        r"Process\.kill": "kill",
    },
    "node": {
        r"\b(execSync|exec|execFile|execFileSync|spawn|spawnSync|fork)": "run",
        r"(\bfs|\))(\.promises)?\.(rmSync|rm)": "rm?",
        r"(\bfs|\))(\.promises)?\.(rmdirSync|rmdir)": "rmdir",
        r"(\bfs|\))(\.promises)?\.(unlinkSync|unlink)": "rm",
        r"(\bfs|\))(\.promises)?\.(writeFileSync|appendFileSync|writeFile|appendFile)": "write",
        r"process\.kill": "kill",
        r"Deno\.(removeSync|remove)": "rm?",
        r"(Deno\.run|Deno\.Command|Bun\.spawnSync|Bun\.spawn|Bun\.\$)": "run",
    },
    "php": {
        r"\b(system|exec|shell_exec|passthru|popen|proc_open)": "run",
        r"\bunlink": "rm",
        r"\brmdir": "rmdir",
        r"\bfile_put_contents": "write",
        r"\bposix_kill": "kill",
    },
    "lua": {
        r"(os\.execute|io\.popen)": "run",
        r"os\.remove": "rm",
    },
    "r": {
        r"\b(system|system2|shell|pipe)": "run",
        r"\bunlink": "rm?",
        r"\bfile\.remove": "rm",
    },
    "julia": {
        r"\brm": "rm?",
    },
    "applescript": {
        r"do\s+shell\s+script": "run",
    },
}
_BACKTICK_LANGUAGES = frozenset({"perl", "ruby", "php", "julia"})
_PATHISH = re.compile(r"^(?:~|/|\.\.?/)[^\s'\"]*$|/\.(?:ssh|env|gnupg|aws|kube|docker|hermes)\b")
_PY_WRITE = re.compile(r"""\bopen\(\s*([rbuf]*(['"]).*?\2)\s*,\s*[rbuf]*['"][^'"]*[wa+x]""")
# `Path("x").unlink()`, or a path literal folded from `Path.home() / "x"` (code_home)
_PY_PATH = re.compile(
    r"""(?:Path\(\s*)?([rbuf]*(['"])(?:(?!\2).)*\2)\s*\)?\s*\.\s*(unlink|rmdir|write_\w+)\("""
)
_LITERAL = re.compile(r"""[rbuf]*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""", re.I)
_BACKTICK = re.compile(r"`([^`]*)`")
_FORK_BOMB = re.compile(r"fork\s*while\s*fork|while\s*(True|1|\(1\)|true)\s*:?.*fork\(", re.S)
_DOWNLOAD = re.compile(r"urlopen|urlretrieve|requests\.get|LWP::|Net::HTTP|open-uri|https?\.get")
_EVAL = re.compile(r"\b(exec|eval|instance_eval)\s*\(")


def _string(lit: str) -> str:
    """The value of a string literal; f-string fields become $COMPUTED."""
    quote = min(i for i in (lit.find("'"), lit.find('"')) if i >= 0)
    if "f" in lit[:quote].lower():
        return re.sub(r"\{[^{}]*\}", "$COMPUTED", lit[quote + 1 : -1])
    try:
        value = ast.literal_eval(lit)
    except (ValueError, SyntaxError):
        return lit[quote + 1 : -1]
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _split(text: str, close: str | None) -> list[str]:
    """Top-level comma-separated items of `text`, up to the unmatched `close`
    (or, for calls without parentheses, the end of the statement)."""
    depth, quote, items, current = 0, "", [], ""
    for i, ch in enumerate(text):
        if quote:
            current += ch
            if ch == quote and text[i - 1] != "\\":
                quote = ""
            continue
        if ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif depth and ch in ")]}":
            depth -= 1
        elif depth == 0 and (ch == close or (not close and ch in ";\n)}")):
            break
        elif depth == 0 and ch == ",":
            items.append(current.strip())
            current = ""
            continue
        current += ch
    return [*items, current.strip()] if current.strip() else items


def _args(code: str, start: int) -> list[str]:
    """The arguments of the call whose name ends at `start`."""
    rest = code[start:].lstrip()
    return _split(rest[1:], ")") if rest.startswith("(") else _split(rest, None)


def _value(expr: str) -> str:
    """A string expression's value; whatever the code computes becomes $COMPUTED."""
    out, last = [], 0
    for m in _LITERAL.finditer(expr):
        out += [_gap(expr[last : m.start()]), _string(m.group(0))]
        last = m.end()
    return "".join([*out, _gap(expr[last:])])


def _gap(text: str) -> str:
    return "$COMPUTED" if re.search(r"\w", text) else ""


def _word(expr: str) -> str:
    value = _value(expr)
    return f'"{value}"' if "$COMPUTED" in value else _path_word(value)


def _positional(args: list[str]) -> list[str]:
    """Positional arguments: keyword arguments and option objects are left out."""
    return [a for a in args if not re.match(r"\w+\s*=[^=]", a) and not a.startswith("{")]


def _command(args: list[str]) -> str:
    """The shell command a run-call executes: one string is shell code, a list is argv."""
    pos = _positional(args)
    if not pos:
        return COMPUTED
    if len(pos) == 1 and not _vector(pos[0]):
        return _value(pos[0])
    words = [_word(e) for arg in pos for e in (_elements(arg) if _vector(arg) else [arg])]
    return " ".join(words)


def _vector(arg: str) -> bool:
    """A list of words: `[...]` (Python, JS, Ruby), `c(...)`/`list(...)` (R), `array(...)` (PHP)."""
    return arg[:1] == "[" or re.match(r"(c|list|array)\(", arg) is not None


def _elements(arg: str) -> list[str]:
    if arg[:1] == "[":
        return _split(arg[1:], "]")
    return _split(arg[arg.index("(") + 1 :], ")")


def _target(args: list[str]) -> str:
    pos = _positional(args)
    return _word(pos[0]) if pos else COMPUTED


def shell_outs(language: str, code: str, depth: int = 0) -> tuple[list[str], list[Assessment]]:
    """The shell commands equivalent to what `code` does, and findings that
    are not commands (fork bombs, running downloaded code, hidden code)."""
    found: list[Assessment] = []
    code = code_dynamic.normalise(language, code)
    folded = code_home.home_literal(language, code)
    if folded != code:  # folded literals may name a call (`getattr(os, 'sys' + 'tem')`)
        code = code_dynamic.normalise(language, folded)
    if _FORK_BOMB.search(code) and "fork" in code:
        found.append(Assessment("hard", f"runs a fork bomb in {language}"))
    if _DOWNLOAD.search(code) and _EVAL.search(code):
        found.append(Assessment("high", f"runs code downloaded by {language}"))
    concealed = code_dynamic.hidden(language, code)
    if concealed is not None:
        found.append(concealed)
    out: list[str] = []
    for pattern, action in _CALLS.get(language, {}).items():
        for m in re.finditer(r"(?<!\w)" + pattern + r"\b\s*", code):
            if m.group(0).startswith("qx") or m.group(0).startswith("%x"):
                delim = code[m.end() : m.end() + 1]
                end = code.find({"(": ")", "{": "}", "[": "]"}.get(delim, delim), m.end() + 1)
                out.append(code[m.end() + 1 : end if end > 0 else None])
                continue
            args = _args(code, m.end())
            if language == "applescript":  # do shell script "..." [with ...]
                lit = _LITERAL.match(code, m.end())
                args = [lit.group(0)] if lit else []
            if action == "run":
                out.append(_command(args))
            elif action == "kill":
                out.append("kill " + " ".join(a for a in args if re.fullmatch(r"-?\d+", a)))
            elif action == "write":
                out.append(f": > {_target(args)}")
            else:
                joined = ",".join(args).lower()
                recursive = action == "rmr" or (action == "rm?" and "recursive" in joined)
                recursive = recursive and not re.search(r"recursive\s*=\s*(false|f\b)", joined)
                verb = {"rmdir": "rmdir"}.get(action, "rm -rf" if recursive else "rm -f")
                out.append(f"{verb} -- {_target(args)}")
    if language in _BACKTICK_LANGUAGES:
        out.extend(m.group(1) for m in _BACKTICK.finditer(code))
    if language == "python":
        out.extend(f": > {_path_word(_string(m.group(1)))}" for m in _PY_WRITE.finditer(code))
        for m in _PY_PATH.finditer(code):
            verb = {"unlink": "rm -f --", "rmdir": "rmdir --"}.get(m.group(3), ": >")
            out.append(f"{verb} {_path_word(_string(m.group(1)))}")
    read = [_string(m.group(0)) for m in _LITERAL.finditer(code)]
    read = [p for p in read if _PATHISH.search(p)][:8]
    if read:  # files the code names: reading a key or a Hermes home is judged like `cat`
        out.append(": " + " ".join("<" + _path_word(p) for p in read))
    for inner in code_dynamic.inner(language, code) if depth < 2 else ():
        more_out, more_found = shell_outs(language, inner, depth + 1)
        out.extend(more_out)
        found.extend(more_found)
    return out, found


def _path_word(path: str) -> str:
    """A path as a shell word: a leading `~` or `~/` stays unquoted, so it keeps
    meaning the home directory (a quoted `'~'` is a file named ~)."""
    m = re.match(r"~[\w.-]*(?:/|$)", path)
    if m is None:
        return shlex.quote(path)
    rest = path[m.end() :]
    safe = not rest or re.fullmatch(r"[\w@%+=:,./-]+", rest)
    return m.group(0) + (rest if safe else shlex.quote(rest))
