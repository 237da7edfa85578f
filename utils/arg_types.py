"""Numeric option types that enforce a range: argparse `type=` callables, also usable on values already parsed.

`positive_int("0")` fails with `argparse.ArgumentTypeError`, so argparse ends the run before any work with its usage
line, one error line naming the option and the value (`argument --batch_size: 0 is not >= 1`) and exit code 2.
Floats must be finite (`nan`, `inf` are refused). `Number.check(name, value)` applies the same rule to a value from
another source (a Hydra config) and raises `UserError` in one line.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from utils.cli import UserError


@dataclass(frozen=True)
class Number:
    """An int or finite float in [low, high] (an end is excluded when `*_open`; None: unbounded).

    Args:
        kind: `int` or `float`.
        low, high: the bounds.
        low_open, high_open: exclude that bound.
    """

    kind: type = float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        """The rule in words, e.g. `an integer >= 1`, `a finite number in (0, 1]`."""
        what = "an integer" if self.kind is int else "a finite number"
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{what} in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{what} {'<' if self.high_open else '<='} {self.high:g}"
        return what

    def problem(self, value: int | float) -> str | None:
        """None when `value` follows the rule, else what is wrong with it."""
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or (self.kind is int and value != int(value))
        ):
            return f"{value!r} is not {self.describe()}"
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        return f"{value} is not {self.describe()}" if below or above else None

    def __call__(self, text: str) -> int | float:
        """argparse `type=`: the text as a number following the rule."""
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {self.describe()}") from None
        problem = self.problem(value)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    def check(self, name: str, value: int | float) -> int | float:
        """`value` of the option `name` if it follows the rule, else a one-line `UserError` naming both."""
        problem = self.problem(value)
        if problem is not None:
            raise UserError(f"{name}: {problem}")
        return value


def in_range(
    low: float | None = None,
    high: float | None = None,
    kind: type = float,
    low_open: bool = False,
    high_open: bool = False,
) -> Number:
    """A number in [low, high] (ends excluded when `*_open`)."""
    return Number(kind, low, high, low_open, high_open)


any_int = Number(int)
positive_int = Number(int, 1)
non_negative_int = Number(int, 0)
gpu_index = Number(int, -1)  # -1: the CPU
finite_float = Number(float)
positive_float = Number(float, 0, low_open=True)
non_negative_float = Number(float, 0)
probability = Number(float, 0, 1)
dropout_rate = Number(float, 0, 1, high_open=True)  # 1 would drop everything
seed_int = non_negative_int  # numpy's generators refuse negative seeds
