"""Request and response bodies of the gamification operations: levels, XP, streaks, leaderboards, badges."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from babyowl.blueprints.api.core import ApiModel
from babyowl.services.xp import MAX_BONUS, MAX_NOTE


class LevelOut(ApiModel):
    user_id: uuid.UUID
    total_xp: int
    level: int
    level_floor_xp: int = Field(description="Total XP at which this level began.")
    next_level_xp: int | None = Field(None, description="Total XP at which the next level begins (null at the top).")
    xp_to_next: int
    percent: int = Field(description="How far through this level, 0-100 (the profile's progress bar).")


class StreakOut(ApiModel):
    user_id: uuid.UUID
    days: int = Field(description="The daily streak: active days in the run ending today or yesterday.")
    start: date | None = None
    active_today: bool
    repaired: list[date] = Field(description="Missed days bridged automatically (at most one per 7 days).")
    weeks: int = Field(description="Consecutive weeks with at least one active day.")


class XPEntryOut(ApiModel):
    id: uuid.UUID
    amount: int
    reason: str
    reason_name: str
    class_id: uuid.UUID | None = None
    note: str | None = None
    created_at: datetime


class EarnIn(ApiModel):
    user_id: uuid.UUID = Field(description="The student.")
    amount: int = Field(ge=-MAX_BONUS, le=MAX_BONUS, description="Negative removes XP (never below 0).")
    reason: str = Field(min_length=1, max_length=MAX_NOTE, description="Why: the student sees it in their history.")
    reference: uuid.UUID | None = Field(None, description=(
        "Your key for this award: sent again (a retry), it gives the same ledger row and no XP twice."))
    class_id: uuid.UUID | None = Field(None, description="Count it on this class's leaderboard (the student's).")


class EarnedOut(XPEntryOut):
    user_id: uuid.UUID
    total_xp: int
    level: int


class LeaderboardQuery(ApiModel):
    class_id: uuid.UUID
    period: Literal["all", "week"] = "all"


class LeaderboardRowOut(ApiModel):
    rank: int
    label: str = Field(description="A name, or \"Student 7\" where the class's board is anonymous.")
    xp: int
    is_me: bool
    opted_out: bool = Field(description="Only ever true for those who see names (staff, the instructor) or "
                                        "for one's own row.")
    user_id: uuid.UUID | None = Field(None, description="Only when the caller may know who it is.")


class LeaderboardOut(ApiModel):
    class_id: uuid.UUID
    class_name: str
    period: Literal["all", "week"]
    mode: Literal["off", "anonymous", "neighbours", "full"]
    neighbours: int
    visible: bool = Field(description="False: the board is off for the caller (no rows).")
    names: bool = Field(description="The caller sees everyone by name (staff, the class's instructor).")
    me_opted_out: bool
    can_configure: bool
    rows: list[LeaderboardRowOut]


class LeaderboardSettingsIn(ApiModel):
    mode: Literal["off", "anonymous", "neighbours", "full"]
    neighbours: int = Field(2, ge=1, le=10)


class PreferencesIn(ApiModel):
    opt_out: bool
    time_zone: Literal["", "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"] = ""


class PreferencesOut(ApiModel):
    opt_out: bool
    time_zone: str | None = None


class BadgesQuery(ApiModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=500)
    earned: bool = Field(False, description="Only the badges the caller holds.")


class BadgeOut(ApiModel):
    id: uuid.UUID
    slug: str
    name: str
    description: str
    rarity: Literal["common", "rare", "epic", "legendary"]
    rarity_name: str
    xp: int
    image_url: str | None = None
    holders: int = Field(description="Active students holding it.")
    share_percent: int = Field(description="Their share of the school's active students.")
    earned: bool
    earned_at: datetime | None = None
    user_badge_id: uuid.UUID | None = None
    shared: bool = Field(False, description="Published as an Open Badges assertion.")


class UnlockIn(ApiModel):
    user_id: uuid.UUID | None = Field(None, description="The student (staff); a student checks themselves.")


class UnlockOut(ApiModel):
    user_id: uuid.UUID
    unlocked: list[BadgeOut] = Field(description="The badges newly earned by this check (empty: none).")
