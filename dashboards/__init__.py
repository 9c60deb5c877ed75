"""The Streamlit dashboard: run history, DAG and Gantt views, logs and alerts, read-only.

``runwatch dashboard`` starts it; the app (``dashboards/app.py``) reads the store through
a read-only connection with the queries of ``runner.store.dashboard_reads``.
"""
