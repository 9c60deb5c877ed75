"""`runwatch wrap`: run an existing cron command as a recorded run of a job.

The modules here sit on the path of every wrapped cron job, so they import only what
that path needs: no dataclasses, logging, typing, SQLAlchemy or YAML at import time
(`bench/wrap_bench.py` holds the budget). Start at ``runner.wrap.command.run_wrap``.
"""
