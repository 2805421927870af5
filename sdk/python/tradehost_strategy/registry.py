"""`register`: the one call that tells the component which class is the strategy."""

_registered = []


def register(cls):
    """Makes `cls` (a `Strategy` subclass) the component's strategy; usable as a decorator."""
    from .strategy import Strategy as _Base

    if not (isinstance(cls, type) and issubclass(cls, _Base)):
        raise TypeError(f"register() takes a Strategy subclass, not {cls!r}")
    _registered[:] = [cls]
    return cls


def registered():
    """The registered strategy class; raises `LookupError` when `register` was not called."""
    if not _registered:
        raise LookupError(
            "no strategy registered: call tradehost_strategy.register(YourStrategy) in app.py"
        )
    return _registered[0]
