"""What runs the engine's attempts: ``local`` (subprocesses, Python workers, threads) and
``celery`` (attempts on Celery workers); ``kinds`` chooses one from runwatch.yaml and
``factory`` assembles an engine around it."""
