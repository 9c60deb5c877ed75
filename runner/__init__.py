"""runwatch's runner: jobs, tasks, the engine and the store."""
