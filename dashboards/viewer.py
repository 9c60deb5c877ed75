"""What every page is given: the settings, "now", and the viewer's choices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboards.settings import DashboardSettings
from dashboards.timezones import age_text, local

WINDOWS = {
    "24 hours": timedelta(hours=24),
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
}
REFRESH = {"off": None, "10 s": 10.0, "30 s": 30.0, "1 min": 60.0, "5 min": 300.0}


@dataclass(frozen=True)
class Viewer:
    """The page's "now" and the viewer's timezone and statistics window."""

    settings: DashboardSettings
    now: datetime
    zone: str
    window: timedelta
    window_name: str

    def time(self, moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
        """``moment`` in the viewer's timezone."""
        return local(moment, self.zone, fmt)

    def age(self, moment: datetime | None) -> str:
        """How long before now ``moment`` was."""
        return age_text(moment, self.now)

    def when(self, moment: datetime | None) -> str:
        """``2024-05-01 12:00 (3 h ago)``, or an empty string."""
        if moment is None:
            return ""
        return f"{self.time(moment, '%Y-%m-%d %H:%M')} ({self.age(moment)})"
