"""Go's ``encoding/json`` syntax check, for its exact error messages.

etcd's members API answers a malformed body with the text of Go's ``json.Unmarshal``
error (``unexpected end of JSON input``, ``invalid character 'x' looking for beginning
of value`` ...). Python's parser words these differently, so this is a small table-free
transcription of Go's scanner states: it validates, it does not build values.
"""

from __future__ import annotations

_SPACE = frozenset(b" \t\r\n")
_DIGITS = frozenset(b"0123456789")
_HEXDIGITS = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = frozenset(b'bfnrt\\/"')
_MAX_DEPTH = 10000

# Parse-stack entries.
_OBJECT_KEY = 0
_OBJECT_VALUE = 1
_ARRAY_VALUE = 2


class _Syntax(Exception):
    pass


def _quote_char(c: int) -> str:
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    ch = chr(c)
    if c < 0x20 or c == 0x7F:
        short = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}
        return "'" + short.get(c, f"\\x{c:02x}") + "'"
    if c == 0x5C:
        return "'\\\\'"
    return "'" + ch + "'"


def _bad(c: int, context: str) -> _Syntax:
    return _Syntax(f"invalid character {_quote_char(c)} {context}")


def check_valid(data: bytes) -> str | None:
    """Go's ``checkValid``: None if ``data`` is one JSON value, else Go's error text."""
    try:
        _Scanner(data).run()
    except _Syntax as exc:
        return str(exc)
    return None


class _Scanner:
    __slots__ = ("data", "pos", "stack")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.stack: list[int] = []

    def _next(self) -> int | None:
        if self.pos >= len(self.data):
            return None
        c = self.data[self.pos]
        self.pos += 1
        return c

    def _next_or_eof(self) -> int:
        c = self._next()
        if c is None:
            raise _Syntax("unexpected end of JSON input")
        return c

    def _next_or_space(self) -> int:
        # Go's scanner ends input by stepping a space: inside a number, literal or escape
        # that makes the error "invalid character ' ' ...", not "unexpected end".
        c = self._next()
        return 0x20 if c is None else c

    def _skip_space(self) -> int | None:
        while True:
            c = self._next()
            if c is None or c not in _SPACE:
                return c

    def run(self) -> None:
        c = self._skip_space()
        if c is None:
            raise _Syntax("unexpected end of JSON input")
        self._value(c)
        while True:
            c = self._skip_space()
            if c is None:
                if self.stack:
                    raise _Syntax("unexpected end of JSON input")
                return
            if not self.stack:
                raise _bad(c, "after top-level value")
            self._after_value(c)

    def _push(self, kind: int) -> None:
        self.stack.append(kind)
        if len(self.stack) > _MAX_DEPTH:
            raise _Syntax("exceeded max depth")

    def _after_value(self, c: int) -> None:
        top = self.stack[-1]
        if top == _OBJECT_KEY:
            if c != 0x3A:  # ':'
                raise _bad(c, "after object key")
            self.stack[-1] = _OBJECT_VALUE
            c2 = self._skip_space()
            if c2 is None:
                raise _Syntax("unexpected end of JSON input")
            self._value(c2)
        elif top == _OBJECT_VALUE:
            if c == 0x2C:  # ','
                self.stack[-1] = _OBJECT_KEY
                c2 = self._skip_space()
                if c2 is None:
                    raise _Syntax("unexpected end of JSON input")
                if c2 != 0x22:
                    raise _bad(c2, "looking for beginning of object key string")
                self._string()
            elif c == 0x7D:  # '}'
                self.stack.pop()
            else:
                raise _bad(c, "after object key:value pair")
        else:
            if c == 0x2C:
                c2 = self._skip_space()
                if c2 is None:
                    raise _Syntax("unexpected end of JSON input")
                self._value(c2)
            elif c == 0x5D:  # ']'
                self.stack.pop()
            else:
                raise _bad(c, "after array element")

    def _value(self, c: int) -> None:
        if c == 0x7B:  # '{'
            self._push(_OBJECT_KEY)
            c2 = self._skip_space()
            if c2 is None:
                raise _Syntax("unexpected end of JSON input")
            if c2 == 0x7D:
                self.stack.pop()
                return
            if c2 != 0x22:
                raise _bad(c2, "looking for beginning of object key string")
            self._string()
        elif c == 0x5B:  # '['
            self._push(_ARRAY_VALUE)
            c2 = self._skip_space()
            if c2 is None:
                raise _Syntax("unexpected end of JSON input")
            if c2 == 0x5D:
                self.stack.pop()
                return
            self._value(c2)
        elif c == 0x22:
            self._string()
        elif c == 0x2D or c in _DIGITS:
            self._number(c)
        elif c == 0x74:
            self._literal(b"rue", "true")
        elif c == 0x66:
            self._literal(b"alse", "false")
        elif c == 0x6E:
            self._literal(b"ull", "null")
        else:
            raise _bad(c, "looking for beginning of value")

    def _literal(self, rest: bytes, word: str) -> None:
        for want in rest:
            c = self._next_or_space()
            if c != want:
                raise _bad(c, f"in literal {word} (expecting {_quote_char(want)})")

    def _string(self) -> None:
        while True:
            c = self._next_or_eof()
            if c == 0x22:
                return
            if c == 0x5C:
                e = self._next_or_space()
                if e == 0x75:  # 'u'
                    for _ in range(4):
                        h = self._next_or_space()
                        if h not in _HEXDIGITS:
                            raise _bad(h, "in \\u hexadecimal character escape")
                elif e not in _ESCAPES:
                    raise _bad(e, "in string escape code")
            elif c < 0x20:
                raise _bad(c, "in string literal")

    def _number(self, c: int) -> None:
        if c == 0x2D:
            c = self._next_or_space()
            if c not in _DIGITS:
                raise _bad(c, "in numeric literal")
        # A leading 0 takes no more digits ("01" ends the number after the 0).
        c2 = self._peek() if c == 0x30 else self._peek_digits()
        if c2 == 0x2E:  # '.'
            self.pos += 1
            d = self._next_or_space()
            if d not in _DIGITS:
                raise _bad(d, "after decimal point in numeric literal")
            c2 = self._peek_digits()
        if c2 in (0x65, 0x45):  # e E
            self.pos += 1
            d = self._next_or_space()
            if d in (0x2B, 0x2D):
                d = self._next_or_space()
            if d not in _DIGITS:
                raise _bad(d, "in exponent of numeric literal")
            self._peek_digits()

    def _peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None

    def _peek_digits(self) -> int | None:
        while self.pos < len(self.data) and self.data[self.pos] in _DIGITS:
            self.pos += 1
        return self._peek()
