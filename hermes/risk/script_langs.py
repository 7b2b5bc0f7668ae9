"""The command languages of editors, build tools, debuggers and database clients.

Each reader returns the shell code its text would run (and what it writes),
and findings for code it cannot see: vim's ex commands (`!cmd`, `:w !cmd`,
`system()`, `:py3 ...`), makefiles (recipe lines and `$(shell ...)` are shell
code), gdb (`shell`, `!`), database clients' shell escapes (`\\!`, `.shell`,
`COPY ... PROGRAM`), crontab lines, sftp batch files (`!cmd`), Tcl/expect
(`exec`, `spawn`, `system`, `open "|cmd"`, `file delete`).
"""

from __future__ import annotations

import re
import shlex

from hermes.risk.model import Assessment

Read = tuple[list[str], list[Assessment]]
_HIDDEN = "runs code the gate cannot see"
_MODIFIERS = re.compile(
    r"(?:(?:sil(?:ent)?!?|uns(?:ilent)?|noa(?:utocmd)?|keepj(?:umps)?|keepp(?:atterns)?|"
    r"keepa(?:lt)?|lockm(?:arks)?|vert(?:ical)?|bo(?:tright)?|to(?:pleft)?|lefta(?:bove)?|"
    r"rightb(?:elow)?|abo(?:veleft)?|bel(?:owright)?|tab|conf(?:irm)?|hid(?:e)?)\s+)*"
)
_RANGE = re.compile(
    r"\s*:*\s*(?:%|(?:[.$]|\d+|'[a-z<>]|/(?:[^/\\]|\\.)*/|\?(?:[^?\\]|\\.)*\?)(?:[+-]\d*)*"
    r"(?:\s*[,;]\s*(?:[.$]|\d+|'[a-z<>]|/(?:[^/\\]|\\.)*/)(?:[+-]\d*)*)?)?\s*"
)
_REST_COMMANDS = frozenset(
    {"norm", "normal", "g", "global", "v", "vglobal", "argdo", "bufdo", "windo", "tabdo", "cdo",
     "cfdo", "ldo", "lfdo", "py", "python", "py3", "python3", "pyx", "pythonx", "lua", "perl",
     "ruby", "rub", "tcl"}
)  # fmt: skip
_LANGS = {"py": "python", "python": "python", "py3": "python", "python3": "python",
          "pyx": "python", "pythonx": "python", "lua": "lua", "perl": "perl", "ruby": "ruby",
          "rub": "ruby", "tcl": "tcl"}  # fmt: skip
_VIM_STR = r"'(?:[^']|'')*'|\"(?:[^\"\\]|\\.)*\""
_RUNNERS = r"\b(system|systemlist|job_start|jobstart|termopen|term_start)\s*\(\s*"


def _vim_string(expr: str) -> str | None:
    """A vim expression of string literals joined with `.`/`..`, else None."""
    parts = re.findall(_VIM_STR + r"|\.\.?|\S", expr.strip())
    if not parts or any(not (p[0] in "'\"" or p in (".", "..")) for p in parts):
        return None
    out = []
    for p in parts:
        if p.startswith("'"):
            out.append(p[1:-1].replace("''", "'"))
        elif p.startswith('"'):
            out.append(p[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape"))
    return "".join(out)


def _split_ex(text: str) -> tuple[str, str]:
    """One ex command and what follows its `|` (commands that take the rest keep it)."""
    head = _RANGE.match(text)
    body = text[head.end() if head else 0 :]
    body = body[_MODIFIERS.match(body).end() :]  # type: ignore[union-attr]
    name = re.match(r"[a-zA-Z]*", body).group(0)  # type: ignore[union-attr]
    if body.startswith("!") or name in _REST_COMMANDS or re.match(r"(r|read|w|write)\s*!", body):
        return text, ""
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "|" and text[i - 1 : i] != "\\":
            return text[:i], text[i + 1 :]
    return text, ""


def ex(code: str, depth: int = 0) -> Read:
    out: list[str] = []
    found: list[Assessment] = []
    for line in code.splitlines():
        rest = line
        while rest.strip():
            command, rest = _split_ex(rest)
            _ex_command(command, out, found, depth)
    return out, found


def _ex_command(command: str, out: list[str], found: list[Assessment], depth: int) -> None:
    head = _RANGE.match(command)
    body = command[head.end() if head else 0 :]
    body = body[_MODIFIERS.match(body).end() :].strip()  # type: ignore[union-attr]
    m = re.match(r"([a-zA-Z]+|!)\s*(!?)\s*(.*)", body, re.S)
    if not m:
        return
    name, bang, args = m.groups()
    if name == "!":
        out.append((bang + args) if not bang else args)
    elif name in ("r", "read", "w", "write") and args.startswith("!"):
        out.append(args[1:])
    elif name in ("r", "read") and args:
        out.append(f": < {shlex.quote(args)}")
    elif (
        name in ("w", "write", "sav", "saveas", "wq", "x", "xit")
        and args
        and not args.startswith(">>")
    ):
        out.append(f": > {shlex.quote(args.strip())}")
    elif name in ("ter", "terminal") and args:
        out.append(re.sub(r"^(\+\+\S+\s+)*", "", args))
    elif name in _LANGS:
        from hermes.risk import languages  # the readers of other languages

        snippets, more = languages.read(_LANGS[name], args)
        out.extend(snippets)
        found.extend(more)
    elif name in ("exe", "exec", "execute"):
        inner = _vim_string(args)
        if inner is None:
            found.append(Assessment("medium", f"{_HIDDEN} (vim :execute of a computed string)"))
        elif depth < 4:
            more_out, more_found = ex(inner, depth + 1)
            out.extend(more_out)
            found.extend(more_found)
    elif name in ("g", "global", "v", "vglobal") and args and depth < 4:
        delim = args[0]
        end = args.find(delim, 1)
        more_out, more_found = ex(args[end + 1 :] if end > 0 else "", depth + 1)
        out.extend(more_out)
        found.extend(more_found)
    elif name in ("argdo", "bufdo", "windo", "tabdo", "cdo", "cfdo", "ldo", "lfdo") and depth < 4:
        more_out, more_found = ex(args, depth + 1)
        out.extend(more_out)
        found.extend(more_found)
    _vim_functions(body, out, found)


def _vim_functions(body: str, out: list[str], found: list[Assessment]) -> None:
    for m in re.finditer(_RUNNERS + r"(" + _VIM_STR + r"|[^,)]*)", body):
        value = _vim_string(m.group(2))
        if value is None:
            found.append(
                Assessment("medium", f"runs a command computed at run time (vim {m.group(1)}())")
            )
        else:
            out.append(value)
    for m in re.finditer(
        r"\bdelete\s*\(\s*(" + _VIM_STR + r")\s*(?:,\s*(" + _VIM_STR + r"))?", body
    ):
        path, flags = _vim_string(m.group(1)), _vim_string(m.group(2) or "''")
        if path is not None:
            out.append(f"rm {'-rf' if flags and 'r' in flags else '-f'} -- {shlex.quote(path)}")
    for m in re.finditer(r"\bwritefile\s*\([^,]*,\s*(" + _VIM_STR + r")", body):
        path = _vim_string(m.group(1))
        if path is not None:
            out.append(f": > {shlex.quote(path)}")


# --- makefiles ---


def _make_shell_functions(text: str) -> list[str]:
    out = []
    for m in re.finditer(r"\$[({]shell\s+", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"(": 1, "{": 1, ")": -1, "}": -1}.get(text[i], 0)
            i += 1
        out.append(text[m.end() : i - 1])
    return out


def make(text: str) -> Read:
    text = text.replace("\\\n", " ")
    values: dict[str, str] = {}
    out = _make_shell_functions(text)
    in_rule = False
    for line in text.splitlines():
        if line.startswith("\t") and in_rule:
            out.append(_make_vars(line[1:].lstrip("@-+ \t"), values))
            continue
        assign = re.match(
            r"\s*(?:export\s+|override\s+)?([\w.-]+)\s*(::?=|\?=|\+=|=|!=)\s*(.*)", line
        )
        rule = re.match(r"^([^:#=\t][^:#=]*?)::?(?!=)(.*)$", line)
        if assign and not rule:
            name, op, value = assign.groups()
            if op == "!=":
                out.append(value)
            values[name] = values.get(name, "") + " " + value if op == "+=" else value
        elif rule:
            in_rule = True
            _, _, recipe = rule.group(2).partition(";")
            if recipe.strip():
                out.append(_make_vars(recipe.strip(), values))
    return out, []


def _make_vars(recipe: str, values: dict[str, str]) -> str:
    for _ in range(3):
        recipe = re.sub(
            r"\$[({]([\w.-]+)[)}]", lambda m: values.get(m.group(1), m.group(0)), recipe
        )
    recipe = re.sub(r"\$[({][^)}]*[)}]|\$[@<^*?%+|]", "$MAKEVAR", recipe)
    return recipe.replace("$$", "$")


# --- line-oriented languages ---


def gdb(text: str) -> Read:
    out: list[str] = []
    found: list[Assessment] = []
    for line in text.splitlines():
        m = re.match(r"\s*(?:shell\s+|!\s*)(.*)", line)
        py = re.match(r"\s*(?:python|py|pi)\s+(.*)", line)
        pipe = re.match(r"\s*(?:pipe|\|)\s+.*?\|\s*(.*)", line)
        if m:
            out.append(m.group(1))
        elif py:
            from hermes.risk import languages

            snippets, more = languages.read("python", py.group(1))
            out.extend(snippets)
            found.extend(more)
        elif pipe:
            out.append(pipe.group(1))
        for call in re.finditer(r"\bsystem\s*\(\s*(\"(?:[^\"\\]|\\.)*\")", line):
            out.append(call.group(1)[1:-1])
    return out, found


def sqlclient(text: str) -> Read:
    """psql/mysql `\\! cmd`, `\\o |cmd`, sqlite `.shell`/`.system`/`.once |cmd`, `PROGRAM 'cmd'`."""
    out: list[str] = []
    found: list[Assessment] = []
    for line in text.splitlines():
        m = re.match(r"\s*(?:\\!|system\s|\.(?:shell|system)\s)\s*(.*)", line)
        pipe = re.match(
            r"\s*(?:\\[og]|\.(?:once|output|import))\s+['\"]?\|\s*(.*?)['\"]?(?:\s+\S+)?\s*;?$",
            line,
        )
        if m:
            out.append(m.group(1))
        elif pipe:
            out.append(pipe.group(1))
        if re.match(r"\s*\.load\s", line):
            found.append(Assessment("medium", f"{_HIDDEN} (loads a database extension)"))
    for m in re.finditer(r"\bprogram\s+'((?:[^']|'')*)'", text, re.I):
        out.append(m.group(1).replace("''", "'"))
    if re.search(r"\bload_extension\s*\(", text, re.I):
        found.append(Assessment("medium", f"{_HIDDEN} (loads a database extension)"))
    return out, found


def crontab(text: str) -> Read:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or re.match(r"\w+\s*=", line):
            continue
        fields = line.split(None, 1 if line.startswith("@") else 5)
        if len(fields) > (1 if line.startswith("@") else 5):
            out.append(fields[-1].replace("%", "\n", 1).split("\n")[0])
    return out, []


def sftp(text: str) -> Read:
    return [m.group(1) for m in re.finditer(r"(?m)^\s*-?!\s*(.+)$", text)], []


def tcl(text: str) -> Read:
    """Tcl and expect: `exec`/`spawn` ARGS, expect's `system`, `open "|cmd"`, `file delete`."""
    out: list[str] = []
    found: list[Assessment] = []
    for m in re.finditer(r"(?:^|[\[;{\n])\s*(exec|spawn|system)\s+([^\]\n;]*)", text):
        words = [
            _tcl_word(w) for w in re.findall(r"\{[^}]*\}|\"(?:[^\"\\]|\\.)*\"|\S+", m.group(2))
        ]
        words = [w for w in words if w not in ("-ignorestderr", "-keepnewline", "-noecho", "--")]
        out.append(" ".join(words) if m.group(1) == "system" else " ".join(map(_sh, words)))
    for m in re.finditer(r"\bopen\s+[\"{]\|([^\"}]*)[\"}]", text):
        out.append(m.group(1))
    for m in re.finditer(r"\bfile\s+delete\s+([^\]\n;]*)", text):
        words = [_tcl_word(w) for w in m.group(1).split()]
        force = "-force" in words
        paths = [w for w in words if not w.startswith("-")]
        out.append(f"rm {'-rf' if force else '-f'} -- " + " ".join(map(_sh, paths)))
    if re.search(r"\b(eval|uplevel)\s+[\[$]", text):
        found.append(Assessment("medium", f"{_HIDDEN} (Tcl eval of a computed string)"))
    return out, found


def _tcl_word(word: str) -> str:
    if word.startswith("{") and word.endswith("}"):
        return word[1:-1]
    if word.startswith('"') and word.endswith('"'):
        word = word[1:-1]
    return re.sub(r"\$\{?\w+\}?|\[[^\]]*\]", "$COMPUTED", word)


def _sh(word: str) -> str:
    """A word as shell text: computed parts stay computed, `~` is left to mean home."""
    if "$COMPUTED" in word:
        return '"' + word.replace('"', '\\"') + '"'
    return word if re.fullmatch(r"[\w@%+=:,./~-]+", word) else shlex.quote(word)
