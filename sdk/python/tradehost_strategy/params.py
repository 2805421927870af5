"""Typed parameters declared once, as class attributes of a strategy.

    class MyStrategy(Strategy):
        fast = Param(8, "Bars in the fast average", min=1, max=10_000)

The declaration gives `describe` its parameter list (name, description, default as text),
and `init` turns the host's text into the declared type, checks the range, and sets the
instance attribute (`self.fast` is then an `int`). Errors name the parameter, as the Rust
SDK's `Config` does.
"""

SYMBOLS_KEY = "symbols"
"""The reserved configuration key carrying the symbols, comma-separated (`SPY,BAC`)."""


class ConfigError(ValueError):
    """A parameter could not be read: its message names the parameter and says why."""


def _parse_bool(text):
    # Same words as Rust's `bool::from_str`, so a settings file means the same in both.
    if text == "true":
        return True
    if text == "false":
        return False
    raise ValueError("provided string was not `true` or `false`")


class Param:
    """A strategy parameter: default value (its type is the parameter's), description, range."""

    __slots__ = ("default", "description", "type", "min", "max", "name")

    def __init__(self, default, description="", *, type=None, min=None, max=None):
        self.default = default
        self.description = description
        self.type = type if type is not None else builtin_type(default)
        self.min = min
        self.max = max
        self.name = None

    def __set_name__(self, owner, name):
        self.name = name

    def default_text(self):
        """The default as the settings file would write it."""
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)

    def parse(self, text):
        """The value of `text` in the declared type, range-checked; raises `ConfigError`."""
        text = text.strip()
        try:
            if self.type is bool:
                value = _parse_bool(text)
            else:
                value = self.type(text)
        except ValueError as e:
            raise ConfigError(
                f"parameter `{self.name}` = {text!r} is not a valid "
                f"{self.type.__name__} ({e})"
            ) from None
        if (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        ):
            raise ConfigError(
                f"parameter `{self.name}` = {text!r} is out of range: accepted "
                f"{self.min}..={self.max}"
            )
        return value


def builtin_type(value):
    """The type a parameter takes from its default (bool before int: bool is an int)."""
    for t in (bool, int, float, str):
        if isinstance(value, t):
            return t
    raise TypeError(f"unsupported parameter default {value!r}: use bool, int, float or str")


def declared_params(cls):
    """The `Param`s of a strategy class and its bases, in declaration order."""
    seen = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Param):
                seen[name] = value
    return list(seen.values())


def split_symbols(text):
    """`"SPY, IBM"` → `["SPY", "IBM"]`: the reserved `symbols` key's list."""
    return [s.strip() for s in text.split(",") if s.strip()]
