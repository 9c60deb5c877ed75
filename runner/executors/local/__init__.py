"""The local executor: commands as subprocesses under a keeper, Python tasks in forked
workers or in threads of this process, and the capture of their output."""
