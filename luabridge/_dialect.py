"""The typed Lua front-end: Wippy's gradual types erased to plain Lua, lines kept.

Why this exists: Wippy scripts are Lua plus optional, Luau-like type syntax (parameter
and return annotations, typed locals, ``e :: T`` / ``e as T`` casts, ``type`` aliases,
generic parameter lists, ...). None of it is Lua, so lupa would reject such a file. The
types carry no run-time meaning we rely on, so the front-end *erases* them: every
character of type syntax becomes a space, every newline stays, and the output is plain
Lua whose line and column numbers are those of the original. A run-time error in a typed
script therefore names the line the author wrote, and no source map is needed.

How: a tokenizer for Lua 5.4/5.5 plus the type tokens (``->``, ``?``, ``@``), then a
recursive-descent parser of the whole chunk that knows where a type may start (after a
parameter or local name, after the ``)`` of a parameter list, after ``::`` or ``as`` in
an expression, in a ``type`` statement, in ``<...>`` right after a function's or a type's
name). The parser only records the spans to blank; it builds no tree. The grammar of the
types is parsed, not skipped by bracket counting, so a malformed type is reported at the
right line (:class:`DialectError`).

Contract:

* :func:`erase_types` returns the source object itself when it contains no type syntax
  (a token scan decides, without parsing): plain Lua passes through byte for byte.
* Otherwise it returns the erased text: same length, same newlines, only spaces where
  type syntax was. Erasing is idempotent (erased text has no type syntax left).
* ``type``, ``export``, ``as``, ``readonly`` and ``typeof`` stay ordinary identifiers
  wherever Lua allows one (``type(x)``, ``local type = 1``).
* A ``type``/``export type`` statement disappears entirely; its name is not bound at run
  time. The cast functions (``string(x)``, ``integer(x)``...) are ordinary calls to
  globals the sandbox installs; nothing here rewrites them.
* Fails with :class:`DialectError` (``line``, ``message``) when typed code is malformed.
  The parser is strict about the type syntax and lenient elsewhere; plain-Lua syntax
  errors are left for Lua itself to report.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from typing import NamedTuple

__all__ = [
    "CACHE_SIZE",
    "DialectError",
    "cache_clear",
    "erase_types",
    "erase_types_cached",
    "has_type_syntax",
    "tokenize",
]


class DialectError(ValueError):
    """Typed Lua that cannot be parsed. ``line`` is 1-based; ``message`` says what was expected."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.message = message
        self.line = line


# -- tokens ---------------------------------------------------------------------------

NAME, KEYWORD, NUMBER, STRING, OP, EOF = "name", "keyword", "number", "string", "op", "eof"

KEYWORDS = frozenset(
    "and break do else elseif end false for function goto if in local nil not or "
    "repeat return then true until while".split()
)

class Token(NamedTuple):
    """One token: ``kind`` (NAME, KEYWORD, ...), its text, its span and starting line."""

    kind: str
    text: str
    start: int
    end: int
    line: int


# One pass of a master pattern per token; long brackets (strings and comments) are
# found by the group ``long`` and closed by hand, since their closing depends on the
# level of the opening. Numerals follow Lua's lexer: digits, letters and dots, with a
# sign allowed only right after the exponent letter (``e`` decimal, ``p`` hex).
_TOKEN_RE = re.compile(
    r"""
    [ \t\r\n\f\v]*
    (?:
      (?P<long>(?:--)?\[=*\[)
    | (?P<comment>--[^\n]*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>0[xX](?:[0-9A-Za-z_.]|(?<=[pP])[+-])*
                | (?:[0-9]|\.[0-9])(?:[0-9A-Za-z_.]|(?<=[eE])[+-])*)
    | (?P<string>"(?:[^"\\\n]|\\z\s*|\\.)*"|'(?:[^'\\\n]|\\z\s*|\\.)*')
    | (?P<op>\.\.\.|==|~=|<=|>=|//|::|<<|>>|\.\.|->|[-+*/%^\#&~|<>=(){}\[\];:,.?@!])
    | (?P<end>\Z)
    )
    """,
    re.VERBOSE | re.DOTALL,
)
_new_token = tuple.__new__


def tokenize(src: str) -> list[Token]:
    """Split ``src`` into tokens (comments and blanks dropped), ending with an EOF token.

    Raises :class:`DialectError` for an unfinished string, long string or long comment.
    Characters Lua does not know (``$``, a stray backslash...) become one-character OP
    tokens, so Lua itself reports them after erasure.
    """
    toks: list[Token] = []
    append = toks.append
    match = _TOKEN_RE.match
    count = src.count
    i = 0
    line = 1
    while True:
        m = match(src, i)
        if m is None:  # past the blanks: a character no token starts with
            i = len(src) - len(src[i:].lstrip(" \t\r\n\f\v"))
            line = count("\n", 0, i) + 1
            c = src[i]
            if c in "\"'":
                raise DialectError("unfinished string", line)
            append(_new_token(Token, (OP, c, i, i + 1, line)))
            i += 1
            continue
        kind = m.lastgroup
        assert kind is not None  # every alternative of the pattern is a named group
        start = m.start(kind)
        if start > i:
            line += count("\n", i, start)
        j = m.end()
        if kind == "name":
            word = m.group(kind)
            append(_new_token(Token, (KEYWORD if word in KEYWORDS else NAME, word, start, j,
                                      line)))
        elif kind == "op":
            append(_new_token(Token, (OP, m.group(kind), start, j, line)))
        elif kind == "comment":
            pass
        elif kind == "string":
            text = m.group(kind)
            append(_new_token(Token, (STRING, text, start, j, line)))
            line += text.count("\n")
        elif kind == "number":
            append(_new_token(Token, (NUMBER, m.group(kind), start, j, line)))
        elif kind == "long":
            opening = m.group(kind)
            is_comment = opening.startswith("--")
            close = "]" + "=" * (len(opening) - (4 if is_comment else 2)) + "]"
            k = src.find(close, j)
            if k < 0:
                what = "long comment" if is_comment else "long string"
                raise DialectError(f"unfinished {what}", line)
            j = k + len(close)
            if not is_comment:
                append(_new_token(Token, (STRING, src[start:j], start, j, line)))
            line += count("\n", start, j)
        else:  # end of the source
            append(_new_token(Token, (EOF, "", j, j, line)))
            return toks
        i = j


# -- the prescan (the fast path) ------------------------------------------------------

_CONTEXTUAL = frozenset({"type", "export", "as"})
_ENDS_EXPR = frozenset({NAME, NUMBER, STRING})


def _contextual_use(toks: list[Token], k: int) -> bool:
    """Whether the contextual name at ``toks[k]`` may be a type keyword there."""
    t, nxt = toks[k], toks[k + 1]
    if t.text == "export":
        return nxt.kind == NAME and nxt.text == "type"
    if t.text == "type":
        return nxt.kind == NAME and toks[k + 2].text in ("=", "<")
    # `e as T`: an expression ends right before, a type starts right after, same line
    if k == 0 or nxt.line != t.line or toks[k - 1].line != t.line:
        return False
    prev = toks[k - 1]
    return (prev.kind in _ENDS_EXPR or prev.text in (")", "]", "}", "nil", "true", "false")
            ) and (nxt.kind in (NAME, STRING, NUMBER) or nxt.text in ("{", "(", "nil"))


def has_type_syntax(toks: list[Token]) -> bool:
    """Whether the tokens may hold type syntax (conservative: false means certainly none).

    Type syntax needs one of: a ``:`` that is not a method call or a method name, a
    ``::`` that is not a label, the tokens ``->``/``?``/``@``/``!``, a contextual ``type``/
    ``export``/``as`` name, or ``<`` right after ``function [name]``.
    """
    label_end = -1  # index of the `::` closing the label being skipped
    for k, t in enumerate(toks):
        if k <= label_end:
            continue
        if t.kind == NAME:
            if t.text in _CONTEXTUAL and _contextual_use(toks, k):
                return True
            continue
        if t.kind != OP:
            continue
        s = t.text
        if s in ("->", "?", "@", "!"):
            return True
        if s == ":":
            nxt, after = toks[k + 1], toks[k + 2] if k + 2 < len(toks) else toks[-1]
            if (nxt.kind == NAME and (after.text in ("(", "{") or after.kind == STRING)
                    and not (k >= 2 and toks[k - 2].text in ("local", "for"))):
                continue  # a:b(...), a:b{...}, a:b"..." (also function a:b(...))
            return True
        if s == "::":
            if toks[k + 1].kind == NAME and k + 2 < len(toks) and toks[k + 2].text == "::":
                if k + 4 < len(toks) and toks[k + 3].kind == NAME and toks[k + 4].text == "::":
                    return True  # `e :: T ::label::`
                label_end = k + 2
                continue  # `::label::`
            return True
        if s == "<" and k >= 1:
            prev = toks[k - 1]
            if prev.text == "function":
                return True
            if prev.kind == NAME and k >= 2 and toks[k - 2].text == "function":
                return True
    return False


# -- the parser -----------------------------------------------------------------------

_BINARY = frozenset(
    "+ - * / // % ^ .. == ~= < <= > >= and or & | ~ << >>".split()
)
_UNARY = frozenset({"not", "-", "#", "~"})
_BLOCK_END = frozenset({"end", "else", "elseif", "until"})


class _Parser:
    """Recursive descent over the tokens; records the spans of type syntax in ``spans``."""

    def __init__(self, src: str, toks: list[Token]) -> None:
        self.src = src
        self.toks = toks
        self.k = 0
        self.spans: list[tuple[int, int]] = []

    # - helpers -

    @property
    def tok(self) -> Token:
        return self.toks[self.k]

    def peek(self, d: int = 1) -> Token:
        return self.toks[min(self.k + d, len(self.toks) - 1)]

    def at(self, text: str) -> bool:
        t = self.toks[self.k]
        return t.text == text and t.kind in (OP, KEYWORD)

    def at_name(self, text: str | None = None) -> bool:
        t = self.toks[self.k]
        return t.kind == NAME and (text is None or t.text == text)

    def advance(self) -> Token:
        t = self.toks[self.k]
        if t.kind != EOF:
            self.k += 1
        return t

    def fail(self, message: str, tok: Token | None = None) -> DialectError:
        t = tok or self.tok
        got = "the end of the file" if t.kind == EOF else repr(t.text)
        return DialectError(f"{message}, got {got}", t.line)

    def expect(self, text: str, what: str | None = None) -> Token:
        if not self.at(text):
            raise self.fail(f"expected {what or repr(text)}")
        return self.advance()

    def expect_name(self, what: str = "a name") -> Token:
        if not self.at_name():
            raise self.fail(f"expected {what}")
        return self.advance()

    def erase_from(self, start: int) -> None:
        """Blank the source from offset ``start`` to the end of the last consumed token."""
        end = self.toks[self.k - 1].end
        if end > start:
            self.spans.append((start, end))

    def split_gt(self) -> None:
        """Turn a ``>>``/``>=`` at the cursor into ``>`` + rest (closing nested generics)."""
        t = self.tok
        if t.kind == OP and t.text in (">>", ">="):
            first = Token(OP, ">", t.start, t.start + 1, t.line)
            rest = Token(OP, t.text[1:], t.start + 1, t.end, t.line)
            self.toks[self.k:self.k + 1] = [first, rest]

    # - chunk and statements -

    def chunk(self) -> None:
        self.block()
        if self.tok.kind != EOF:
            raise self.fail("expected a statement")

    def block(self) -> None:
        while True:
            t = self.tok
            if t.kind == EOF or (t.kind == KEYWORD and t.text in _BLOCK_END):
                return
            if t.kind == KEYWORD and t.text == "return":
                self.advance()
                if not (self.tok.kind == EOF or self.at(";")
                        or (self.tok.kind == KEYWORD and self.tok.text in _BLOCK_END)):
                    self.exprlist()
                if self.at(";"):
                    self.advance()
                return
            self.statement()

    def statement(self) -> None:
        t = self.tok
        if t.kind == OP:
            if t.text == ";":
                self.advance()
                return
            if t.text == "::":
                self.advance()
                self.expect_name("a label name after '::'")
                self.expect("::", "'::' closing the label")
                return
        if t.kind == KEYWORD:
            handler = _STATEMENTS.get(t.text)
            if handler is not None:
                handler(self)
                return
        if t.kind == NAME and self.type_statement():
            return
        if t.kind == NAME and t.text == "global" and self.global_statement():
            return
        self.expr_statement()

    def type_statement(self) -> bool:
        """``[export] type Name [<params>] = Type``: erased whole. False if not one."""
        t = self.tok
        k = 0
        if t.text == "export":
            if not (self.peek().kind == NAME and self.peek().text == "type"):
                return False
            k = 1
        elif t.text != "type":
            return False
        name, after = self.peek(k + 1), self.peek(k + 2)
        if name.kind != NAME or not (after.kind == OP and after.text in ("=", "<")):
            return False
        start = t.start
        self.k += k + 2
        if self.at("<"):
            self.generic_params()
        self.split_gt()
        self.expect("=", "'=' in the type alias")
        self.type_()
        self.erase_from(start)
        return True

    def global_statement(self) -> bool:
        """Lua 5.5 ``global`` declarations (``global x``, ``global function f``...)."""
        nxt = self.peek()
        if not (nxt.kind == NAME or nxt.text in ("function", "*", "<")):
            return False
        self.advance()
        if self.at("function"):
            self.advance()
            self.expect_name("a function name")
            self.funcbody()
            return True
        if self.at("<"):
            self.attrib()
        if self.at("*"):
            self.advance()
            return True
        self.local_names()
        if self.at("="):
            self.advance()
            self.exprlist()
        return True

    def st_if(self) -> None:
        self.advance()
        self.expr()
        self.expect("then")
        self.block()
        while self.at("elseif"):
            self.advance()
            self.expr()
            self.expect("then")
            self.block()
        if self.at("else"):
            self.advance()
            self.block()
        self.expect("end", "'end' closing 'if'")

    def st_while(self) -> None:
        self.advance()
        self.expr()
        self.expect("do")
        self.block()
        self.expect("end", "'end' closing 'while'")

    def st_do(self) -> None:
        self.advance()
        self.block()
        self.expect("end", "'end' closing 'do'")

    def st_for(self) -> None:
        self.advance()
        self.expect_name("a loop variable")
        self.opt_annotation()
        if self.at("="):
            self.advance()
            self.exprlist()
        else:
            while self.at(","):
                self.advance()
                self.expect_name("a loop variable")
                self.opt_annotation()
            self.expect("in", "'=' or 'in' in the for loop")
            self.exprlist()
        self.expect("do")
        self.block()
        self.expect("end", "'end' closing 'for'")

    def st_repeat(self) -> None:
        self.advance()
        self.block()
        self.expect("until", "'until' closing 'repeat'")
        self.expr()

    def st_function(self) -> None:
        self.advance()
        self.expect_name("a function name")
        while self.at(".") or self.at(":"):
            self.advance()
            self.expect_name("a function name")
        self.opt_generic_params()
        self.funcbody()

    def st_local(self) -> None:
        self.advance()
        if self.at("function"):
            self.advance()
            self.expect_name("a function name")
            self.opt_generic_params()
            self.funcbody()
            return
        self.local_names()
        if self.at("="):
            self.advance()
            self.exprlist()

    def local_names(self) -> None:
        while True:
            self.expect_name("a variable name")
            if self.at("<"):
                self.attrib()
            self.opt_annotation()
            if self.at("<"):
                self.attrib()
            if not self.at(","):
                return
            self.advance()

    def attrib(self) -> None:
        self.advance()
        self.expect_name("an attribute name ('const' or 'close')")
        self.expect(">", "'>' closing the attribute")

    def st_return(self) -> None:  # only reached outside block(): a misplaced return
        self.advance()

    def st_break(self) -> None:
        self.advance()

    def st_goto(self) -> None:
        self.advance()
        self.expect_name("a label after 'goto'")

    def expr_statement(self) -> None:
        self.suffixedexp()
        if self.at("=") or self.at(","):
            while self.at(","):
                self.advance()
                self.suffixedexp()
            self.expect("=")
            self.exprlist()

    # - functions -

    def opt_generic_params(self) -> None:
        if self.at("<"):
            start = self.tok.start
            self.generic_params()
            self.erase_from(start)

    def generic_params(self) -> None:
        """``<T, U: Bound = Default, ...>`` (the caller erases)."""
        self.advance()
        while True:
            if self.at("..."):
                self.advance()
            else:
                self.expect_name("a type parameter name")
                if self.at("..."):
                    self.advance()
            if self.at(":"):
                self.advance()
                self.type_()
            if self.at("="):
                self.advance()
                self.type_()
            if not self.at(","):
                break
            self.advance()
        self.split_gt()
        self.expect(">", "'>' closing the type parameters")

    def funcbody(self) -> None:
        self.expect("(", "'(' opening the parameters")
        if not self.at(")"):
            while True:
                if self.at("..."):
                    self.advance()
                else:
                    self.expect_name("a parameter name")
                self.opt_annotation()
                if not self.at(","):
                    break
                self.advance()
        self.expect(")", "')' closing the parameters")
        if self.at(":"):
            start = self.advance().start
            self.return_type()
            self.erase_from(start)
        self.block()
        self.expect("end", "'end' closing the function")

    def opt_annotation(self) -> None:
        """``: Type`` after a name (erased) if there is one."""
        if self.at(":"):
            start = self.advance().start
            self.type_()
            self.erase_from(start)

    # - expressions -

    def exprlist(self) -> None:
        self.expr()
        while self.at(","):
            self.advance()
            self.expr()

    def expr(self) -> None:
        t = self.tok
        if (t.kind == KEYWORD and t.text == "not") or (t.kind == OP and t.text in _UNARY):
            self.advance()
            self.expr_unit()
        else:
            self.expr_unit()
        while (self.tok.kind in (OP, KEYWORD)) and self.tok.text in _BINARY:
            self.advance()
            t = self.tok
            while (t.kind == KEYWORD and t.text == "not") or (t.kind == OP and t.text in _UNARY):
                self.advance()
                t = self.tok
            self.expr_unit()

    def expr_unit(self) -> None:
        """A simple expression with its casts (``e :: T``, ``e as T``); unary ops first."""
        t = self.tok
        while (t.kind == KEYWORD and t.text == "not") or (t.kind == OP and t.text in _UNARY):
            self.advance()
            t = self.tok
        self.simpleexp()
        self.casts()

    def casts(self) -> None:
        while True:
            t = self.tok
            if t.kind == OP and t.text == "::":
                nxt, after = self.peek(), self.peek(2)
                if (nxt.kind == NAME and after.kind == OP and after.text == "::"
                        and not (self.peek(3).kind == NAME and self.peek(4).text == "::")):
                    return  # `::name::` is a label starting the next statement
                self.advance()
                self.type_()
                self.erase_from(t.start)
            elif (t.kind == NAME and t.text == "as"
                  and t.line == self.toks[self.k - 1].line and self.starts_type(self.peek())):
                self.advance()
                self.type_()
                self.erase_from(t.start)
            elif t.kind == OP and t.text == "!":  # non-nil assertion: e!
                self.advance()
                self.erase_from(t.start)
            else:
                return

    def simpleexp(self) -> None:
        t = self.tok
        if t.kind in (NUMBER, STRING):
            self.advance()
        elif t.kind == KEYWORD and t.text in ("nil", "true", "false"):
            self.advance()
        elif t.kind == OP and t.text == "...":
            self.advance()
        elif t.kind == OP and t.text == "{":
            self.table()
        elif t.kind == KEYWORD and t.text == "function":
            self.advance()
            self.opt_generic_params()
            self.funcbody()
        else:
            self.suffixedexp()

    def primaryexp(self) -> None:
        t = self.tok
        if t.kind == NAME:
            self.advance()
        elif t.kind == OP and t.text == "(":
            self.advance()
            self.expr()
            self.expect(")", "')' closing the parenthesis")
        else:
            raise self.fail("expected an expression")

    def suffixedexp(self) -> None:
        self.primaryexp()
        while True:
            t = self.tok
            if t.kind == OP and t.text == ".":
                self.advance()
                self.expect_name("a field name after '.'")
            elif t.kind == OP and t.text == "[":
                self.advance()
                self.expr()
                self.expect("]", "']' closing the index")
            elif t.kind == OP and t.text == ":":
                self.advance()
                self.expect_name("a method name after ':'")
                self.call_args()
            elif (t.kind == OP and t.text in ("(", "{")) or t.kind == STRING:
                self.call_args()
            else:
                return

    def call_args(self) -> None:
        t = self.tok
        if t.kind == STRING:
            self.advance()
        elif t.kind == OP and t.text == "{":
            self.table()
        elif t.kind == OP and t.text == "(":
            self.advance()
            if not self.at(")"):
                self.exprlist()
            self.expect(")", "')' closing the arguments")
        else:
            raise self.fail("expected call arguments")

    def table(self) -> None:
        self.expect("{")
        while not self.at("}"):
            if self.at("["):
                self.advance()
                self.expr()
                self.expect("]", "']' closing the key")
                self.expect("=", "'=' after the key")
                self.expr()
            elif self.at_name() and self.peek().kind == OP and self.peek().text == "=":
                self.advance()
                self.advance()
                self.expr()
            else:
                self.expr()
            if self.at(",") or self.at(";"):
                self.advance()
            else:
                break
        self.expect("}", "'}' closing the table")

    # - types (parsed only to find their end; the caller erases) -

    def starts_type(self, t: Token) -> bool:
        if t.kind in (NAME, STRING, NUMBER):
            return True
        if t.kind == KEYWORD:
            return t.text in ("nil", "true", "false", "function")
        return t.text in ("{", "(", "<", "...", "|", "&", "-")

    def type_(self) -> None:
        """A full type: unions and intersections of postfix types."""
        if not self.starts_type(self.tok):
            prev = self.toks[self.k - 1].text
            raise self.fail(f"expected a type after '{prev}'")
        if self.at("|") or self.at("&"):
            self.advance()
        self.postfix_type()
        while self.at("|") or self.at("&"):
            self.advance()
            self.postfix_type()

    def postfix_type(self) -> None:
        self.primary_type()
        while True:
            if self.at("?"):
                self.advance()
            elif self.at("[") and self.peek().text == "]":
                self.advance()
                self.advance()
            elif self.at("@"):
                self.advance()
                self.expect_name("an annotation name after '@'")
                if self.at("(") and self.tok.line == self.toks[self.k - 1].line:
                    self.advance()
                    if not self.at(")"):
                        self.exprlist()
                    self.expect(")", "')' closing the annotation")
            else:
                return

    def primary_type(self) -> None:
        t = self.tok
        if t.kind == STRING or t.kind == NUMBER:
            self.advance()
        elif t.kind == OP and t.text == "-" and self.peek().kind == NUMBER:
            self.advance()
            self.advance()
        elif t.kind == KEYWORD and t.text in ("nil", "true", "false"):
            self.advance()
        elif t.kind == KEYWORD and t.text == "function":
            self.advance()
            if self.at("<"):
                self.generic_params()
            self.function_type_tail(require_arrow=False)
        elif t.kind == NAME:
            if t.text == "typeof" and self.peek().text == "(":
                self.advance()
                self.advance()
                self.expr()
                self.expect(")", "')' closing typeof")
                return
            if t.text == "readonly" and self.starts_type(self.peek()) and self.peek().kind != NAME:
                self.advance()
                self.postfix_type()
                return
            if t.text == "readonly" and self.peek().kind == NAME:
                self.advance()
                self.postfix_type()
                return
            self.advance()
            while self.at(".") and self.peek().kind == NAME:
                self.advance()
                self.advance()
            if self.at("<"):
                self.type_args()
        elif t.kind == OP and t.text == "{":
            self.table_type()
        elif t.kind == OP and t.text == "(":
            self.function_type_tail(require_arrow=False)
        elif t.kind == OP and t.text == "<":
            self.generic_params()
            self.function_type_tail(require_arrow=True)
        elif t.kind == OP and t.text == "...":
            self.advance()
            if self.starts_type(self.tok) and not self.at(")"):
                self.type_()
        else:
            raise self.fail("expected a type")

    def type_args(self) -> None:
        self.advance()
        if not self.at(">"):
            while True:
                self.type_()
                if not self.at(","):
                    break
                self.advance()
        self.split_gt()
        self.expect(">", "'>' closing the type arguments")

    def function_type_tail(self, *, require_arrow: bool) -> None:
        """``(params) -> R`` or a parenthesised type / type pack ``(A, B)``."""
        self.expect("(", "'(' in the function type")
        if not self.at(")"):
            while True:
                if self.at_name() and self.peek().kind == OP and self.peek().text == ":":
                    self.advance()
                    self.advance()
                elif self.at("...") and self.peek().text == ":":
                    self.advance()
                    self.advance()
                self.type_()
                if not self.at(","):
                    break
                self.advance()
        self.expect(")", "')' in the function type")
        if self.at("->"):
            self.advance()
            self.return_type()
        elif self.at(":"):  # function(a: T): R
            self.advance()
            self.return_type()
        elif require_arrow:
            raise self.fail("expected '->' in the generic function type")

    def return_type(self) -> None:
        self.type_()

    def table_type(self) -> None:
        self.expect("{")
        while not self.at("}"):
            if self.at_name("readonly") and self.peek().kind == NAME:
                self.advance()
            if self.at("["):
                self.advance()
                self.type_()
                self.expect("]", "']' closing the key type")
                self.expect(":", "':' after the key type")
                self.type_()
            elif self.at_name() and self.peek().text in (":", "?") and (
                    self.peek().text == ":" or self.peek(2).text == ":"):
                self.advance()
                if self.at("?"):
                    self.advance()
                self.advance()
                self.type_()
            elif (self.tok.kind == KEYWORD and self.peek().text == ":"):
                self.advance()  # a field named like a keyword: {end: number}
                self.advance()
                self.type_()
            else:
                self.type_()
            if self.at(",") or self.at(";"):
                self.advance()
            else:
                break
        self.expect("}", "'}' closing the table type")


_STATEMENTS = {
    "if": _Parser.st_if,
    "while": _Parser.st_while,
    "do": _Parser.st_do,
    "for": _Parser.st_for,
    "repeat": _Parser.st_repeat,
    "function": _Parser.st_function,
    "local": _Parser.st_local,
    "return": _Parser.st_return,
    "break": _Parser.st_break,
    "goto": _Parser.st_goto,
}


def _blank(src: str, spans: list[tuple[int, int]]) -> str:
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos:  # nested spans (a cast inside an erased type): already blank
            start = pos
        if end <= start:
            continue
        out.append(src[pos:start])
        piece = src[start:end]
        out.append("".join(ch if ch in "\n\r" else " " for ch in piece))
        pos = end
    out.append(src[pos:])
    return "".join(out)


def erase_types(src: str) -> str:
    """Plain Lua for ``src``: the object itself if it has no type syntax, else erased text.

    Same length and same line breaks as ``src``. Raises :class:`DialectError` (with the
    1-based line) if the typed code is malformed.
    """
    toks = tokenize(src)
    if not has_type_syntax(toks):
        return src
    parser = _Parser(src, toks)
    parser.chunk()
    if not parser.spans:
        return src
    return _blank(src, parser.spans)


# -- the per-process cache ------------------------------------------------------------

#: How many distinct (source, chunk name) results the cache keeps (least recently used
#: go first). A host loads each script once; workflows re-load the same few per run.
CACHE_SIZE = 512

_cache: OrderedDict[tuple[bytes, str], str | DialectError] = OrderedDict()
_cache_lock = threading.Lock()


def erase_types_cached(src: str, chunkname: str) -> str:
    """:func:`erase_types` through a bounded LRU keyed by the source's hash and name.

    The same script compiled again in this process (another sandbox, another workflow
    run) costs one hash. A :class:`DialectError` is cached too and raised again. Safe
    from several threads.
    """
    key = (hashlib.blake2b(src.encode("utf-8", "surrogatepass"), digest_size=16).digest(),
           chunkname)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
    if hit is None:
        try:
            hit = erase_types(src)
        except DialectError as e:
            hit = e
        with _cache_lock:
            _cache[key] = hit
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    if isinstance(hit, DialectError):
        raise hit
    return src if hit == src else hit


def cache_clear() -> None:
    """Forget every cached result (tests and benchmarks measure the cold path with it)."""
    with _cache_lock:
        _cache.clear()
