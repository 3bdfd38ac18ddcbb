"""Levels from total XP: a pure function of a curve kept in settings, never a stored number.

The default is Level Up XP's "snowballing" curve: reaching level n (n >= 2)
takes round(base * (1 - coef^(n-1)) / (1 - coef)) XP in total, so with base
120 and coef 1.3 the thresholds are 0, 120, 276, 479, 742, 1085, ... Each level
asks for `coef` times more than the one before. A school retunes the curve in
configuration (XP_LEVEL_BASE, XP_LEVEL_COEF) and every level follows at once,
because no row stores a level.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_LEVEL = 100


def threshold(level: int, base: int = 120, coef: float = 1.3) -> int:
    """Total XP needed to reach `level` (level 1 needs 0)."""
    if level <= 1:
        return 0
    if coef == 1:
        return base * (level - 1)
    return round(base * (1 - coef ** (level - 1)) / (1 - coef))


def thresholds(count: int, base: int = 120, coef: float = 1.3) -> list[int]:
    return [threshold(n, base, coef) for n in range(1, count + 1)]


@dataclass(frozen=True)
class LevelInfo:
    level: int
    total_xp: int
    floor: int  # XP at which this level began
    next_at: int | None  # XP at which the next level begins (None at the top)

    @property
    def to_next(self) -> int:
        return 0 if self.next_at is None else self.next_at - self.total_xp

    @property
    def percent(self) -> int:
        """How far through this level, 0-100 (the progress bar)."""
        if self.next_at is None:
            return 100
        span = self.next_at - self.floor
        return min(100, max(0, (self.total_xp - self.floor) * 100 // span)) if span > 0 else 100


def level_for(total_xp: int, base: int = 120, coef: float = 1.3) -> LevelInfo:
    total_xp = max(0, int(total_xp))
    level = 1
    while level < MAX_LEVEL and threshold(level + 1, base, coef) <= total_xp:
        level += 1
    next_at = threshold(level + 1, base, coef) if level < MAX_LEVEL else None
    return LevelInfo(level, total_xp, threshold(level, base, coef), next_at)
