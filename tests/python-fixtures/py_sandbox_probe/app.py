"""Looks for a way out of the sandbox on its first trade; buys once for each one found.

Logs what each probe saw, so a test failure says which door was open.
"""

import os

from tradehost_strategy import Strategy, register


def probes():
    """(name, what it found or None) for each way out tried."""
    found = []
    for path in ("/etc/passwd", "/etc/hostname", "app.py", "/proc/self/environ"):
        try:
            with open(path, "rb") as f:
                found.append((f"open({path})", f.read(64)))
        except OSError as e:
            found.append((f"open({path})", None))
    found.append(("os.environ", dict(os.environ) or None))
    try:
        found.append(("os.listdir(/)", os.listdir("/") or None))
    except OSError:
        found.append(("os.listdir(/)", None))
    try:
        import socket

        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1.0)
        s.connect(("127.0.0.1", 4222))
        found.append(("socket", "connected"))
    except Exception as e:
        found.append(("socket", None))
    return found


class Probe(Strategy):
    name = "py-sandbox-probe"
    symbols = ["SPY"]

    def start(self, ctx):
        self.done = False

    def on_trade(self, ctx, trade):
        if self.done:
            return
        self.done = True
        for name, seen in probes():
            ctx.info(f"probe {name}: {'FOUND ' + repr(seen)[:80] if seen else 'nothing'}")
            if seen:
                ctx.buy(trade.symbol, 1.0)


register(Probe)
