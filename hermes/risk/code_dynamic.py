"""Interpreter code that reaches its calls indirectly.

`__import__('os').system(...)`, `getattr(os, 'system')(...)`,
`importlib.import_module('shutil').rmtree(...)`, `from os import system as s`,
`Kernel.send(:system, ...)`, `require('child_process')['execSync'](...)`,
`call_user_func('system', ...)` name their target with literals: they are
rewritten into the plain call (`os.system(...)`) before the call patterns of
hermes/risk/interpreters.py look. Where the name or the code is computed at
run time (`exec(x)`, `getattr(os, n)`, `eval $s`, `$f(...)`), the code is
hidden: at least medium. Literal code given to exec/eval is read in turn.
"""

from __future__ import annotations

import re

from hermes.risk.model import Assessment

_LIT = r"""[rbuf]*(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
_Q = r"""(['"])"""
# (pattern, replacement) per language, applied in order (twice, for nesting)
_REWRITES: dict[str, list[tuple[str, str]]] = {
    "python": [
        (r"(?:__builtins__|builtins)\s*\.\s*__import__", "__import__"),
        (
            rf"(?:__import__|(?:importlib\s*\.\s*)?import_module)\(\s*[rbuf]*{_Q}([\w.]+)\1\s*\)",
            r"\2",
        ),
        (rf"sys\s*\.\s*modules\s*\[\s*{_Q}([\w.]+)\1\s*\]", r"\2"),
        (rf"getattr\(\s*([\w.]+)\s*,\s*[rbuf]*{_Q}(\w+)\2\s*\)", r"\1.\3"),
        (rf"([\w.]+)\s*\.\s*__dict__\s*\[\s*{_Q}(\w+)\2\s*\]", r"\1.\3"),
        (rf"vars\(\s*([\w.]+)\s*\)\s*\[\s*{_Q}(\w+)\2\s*\]", r"\1.\3"),
    ],
    "ruby": [
        (rf"\.\s*(?:send|public_send|__send__)\(\s*(?::|{_Q})(\w+)\1?\s*,?\s*", r".\2("),
        (r"\bmethod\(\s*:(\w+)\s*\)\s*\.\s*call", r"\1"),
    ],
    "node": [
        (r"\[\s*(['\"`])(\w+)\1\s*\]", r".\2"),
        (rf"\bimport\(\s*{_Q}([\w:/]+)\1\s*\)", r"require('\2')"),
    ],
    "php": [
        (rf"\bcall_user_func(?:_array)?\(\s*{_Q}(\w+)\1\s*,?\s*", r"\2("),
    ],
    "r": [
        (rf"\bdo\.call\(\s*{_Q}(\w+)\1\s*,\s*(?:list|c)\(", r"\2("),
    ],
    "perl": [],
    "lua": [],
    "julia": [],
}
_STAR = {  # names `from MODULE import *` brings in that run commands or delete files
    "os": "system popen remove unlink rmdir removedirs kill execv execvp execl execlp spawnv",
    "shutil": "rmtree",
    "subprocess": "run call check_call check_output Popen getoutput getstatusoutput",
    "pty": "spawn",
}
# calls whose argument is code or a name computed at run time: (pattern, what)
_HIDDEN: dict[str, list[tuple[str, str]]] = {
    "python": [
        (rf"\b(?:exec|eval|compile)\s*\((?!\s*{_LIT}\s*[,)])", "exec/eval of computed code"),
        (r"\b__import__\s*\(", "a module imported by a computed name"),
        (r"\bimport_module\s*\(", "a module imported by a computed name"),
        (rf"\bgetattr\s*\([^,()]*,(?!\s*{_LIT}\s*[,)])", "a function looked up by a computed name"),
        (r"\b(?:pickle|marshal|dill)\s*\.\s*loads?\s*\(", "unpickled code"),
    ],
    "perl": [
        (rf"\beval\s*(?!\{{|\s*{_LIT}\s*[;)]|\s*$)", "eval of computed code"),
        (r"&\s*[{$]", "a function called by a computed name"),
    ],
    "ruby": [
        (
            rf"\b(?:eval|instance_eval|class_eval|module_eval)\s*\(?(?!\s*{_LIT}\s*[,)\n;]|\s*\{{|\s*do\b)",
            "eval of computed code",
        ),
        (r"\.\s*(?:send|public_send|__send__)\s*\(", "a method called by a computed name"),
        (r"\bconst_get\s*\(", "a class looked up by a computed name"),
    ],
    "node": [
        (
            rf"\b(?:eval|Function|runInNewContext|runInThisContext|runInContext)\s*\((?!\s*{_LIT}\s*\))",
            "eval of computed code",
        ),
        (
            r"\brequire\s*\((?!\s*['\"`][\w:/@.-]+['\"`]\s*\))",
            "a module loaded by a computed name",
        ),
        (r"\bprocess\s*\.\s*(?:binding|dlopen)\s*\(", "native code"),
    ],
    "php": [
        (rf"\b(?:eval|assert|create_function)\s*\((?!\s*{_LIT}\s*\))", "eval of computed code"),
        (r"(?<![\w>:])\$\w+\s*\(", "a function called by a computed name"),
        (r"\bcall_user_func(?:_array)?\s*\(", "a function called by a computed name"),
        (r"\bpreg_replace\s*\(\s*['\"](.).*?\1\w*e", "code run by a regex replacement"),
    ],
    "lua": [
        (rf"\b(?:load|loadstring|dofile|loadfile)\s*\((?!\s*{_LIT}\s*\))", "load of computed code"),
    ],
    "r": [
        (r"\beval\s*\(\s*(?:str2lang|parse)\s*\((?!\s*text\s*=\s*['\"])", "eval of computed code"),
        (r"\bdo\.call\s*\(", "a function called by a computed name"),
    ],
    "julia": [
        (r"\b(?:eval|include_string)\s*\((?!\s*:\()", "eval of computed code"),
        (r"@eval\b", "eval of computed code"),
    ],
}
# literal code handed to exec/eval: read in turn
_INNER: dict[str, str] = {
    "python": rf"\b(?:exec|eval)\s*\(\s*({_LIT})\s*[,)]",
    "perl": rf"\beval\s*\(?\s*({_LIT})",
    "ruby": rf"\b(?:eval|instance_eval)\s*\(?\s*({_LIT})",
    "node": rf"\b(?:eval|Function)\s*\(\s*({_LIT})\s*\)",
    "php": rf"\beval\s*\(\s*({_LIT})\s*\)",
    "lua": rf"\b(?:load|loadstring)\s*\(\s*({_LIT})\s*\)",
    "r": rf"\beval\s*\(\s*parse\s*\(\s*text\s*=\s*({_LIT})",
}


def normalise(language: str, code: str) -> str:
    """`code` with calls reached through literal names rewritten as plain calls."""
    for _ in range(2):
        for pattern, repl in _REWRITES.get(language, []):
            code = re.sub(pattern, repl, code)
    if language == "python":
        code = _python_aliases(code)
    return code


def _python_aliases(code: str) -> str:
    aliases: dict[str, str] = {}
    for m in re.finditer(r"\bimport\s+([\w.]+)\s+as\s+(\w+)", code):
        aliases[m.group(2)] = m.group(1)
    for m in re.finditer(r"\bfrom\s+([\w.]+)\s+import\s+\(?([\w\s,*]+)\)?", code):
        module = m.group(1)
        for item in m.group(2).split(","):
            name, _, alias = (p.strip() for p in item.strip().partition(" as "))
            if name == "*":
                aliases.update({n: f"{module}.{n}" for n in _STAR.get(module, "").split()})
            elif name:
                aliases[alias or name] = f"{module}.{name}"
    for alias, full in aliases.items():
        if alias != full:
            code = re.sub(rf"(?<![\w.]){re.escape(alias)}\b(?=\s*[.(])", full, code)
    return code


def hidden(language: str, code: str) -> Assessment | None:
    """A finding when the code calls something the gate cannot see."""
    for pattern, what in _HIDDEN.get(language, []):
        if re.search(pattern, code):
            return Assessment("medium", f"runs code the gate cannot see ({language}: {what})")
    return None


def inner(language: str, code: str) -> list[str]:
    """Literal code given to exec/eval, as source text."""
    pattern = _INNER.get(language)
    if pattern is None:
        return []
    out = []
    for m in re.finditer(pattern, code):
        lit = m.group(1)
        quote = min(i for i in (lit.find("'"), lit.find('"')) if i >= 0)
        body = lit[quote + 1 : -1]
        out.append(body.encode("latin-1", "backslashreplace").decode("unicode_escape", "replace"))
    return out
