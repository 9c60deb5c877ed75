"""OpenLineage: RunEvents for every run and task attempt, from the event log.

Off unless OpenLineage is configured the standard way (``OPENLINEAGE_URL``,
``OPENLINEAGE_CONFIG`` or an ``openlineage.yml``, ``OPENLINEAGE__TRANSPORT__…``);
``runwatch serve`` then follows the store's event log with a cursor of its own
(``consumer``), turns run and attempt events into RunEvents (``run_events``) and hands
them to the maintained ``openlineage-python`` client on a thread of its own through a
bounded queue (``emitter``), so a slow or down endpoint never delays or fails a run.
"""
