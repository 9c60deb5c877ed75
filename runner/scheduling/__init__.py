"""Scheduling: cron schedules, the scheduler that starts due runs, the daemon around it,
and job expectations (late and missed runs)."""
