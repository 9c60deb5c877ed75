"""The page sections that offer operations, and the log of those done.

Nothing here is drawn while the dashboard is read-only (``dashboard.actions`` off). With
operations on, a visitor who is not logged in, or not allowed an action, sees its button
disabled and why; ``perform`` checks the allow-list again when the action runs.
"""

from __future__ import annotations

import streamlit as st

from dashboards.operations import perform
from dashboards.operations.identity import current_operator
from dashboards.operations.perform import Outcome, RunSubject
from dashboards.viewer import Viewer
from dashboards.views import markdown as md
from runner.dashboard_access import Action, Operator
from runner.model import RunState
from runner.store.dashboard_reads.operations import OperationRow
from runner.store.dashboard_reads.results import AlertRow, RunRow, SilenceRow

_OUTCOME = "op-outcome"
_PARAM_HELP = "One KEY=VALUE a line; tasks get each as RUNWATCH_PARAM_KEY."


def operations_on(viewer: Viewer) -> bool:
    """True when the dashboard offers operations (``dashboard.actions: true``)."""
    return viewer.settings.allow is not None and viewer.settings.groups_claim is not None


def _gate(viewer: Viewer, action: Action) -> tuple[Operator | None, str | None]:
    operator = current_operator(viewer.settings)
    return operator, perform.refusal(viewer.settings, action, operator)


def _show(outcome: Outcome) -> None:
    """Keep the outcome and draw the page again, so it shows what the action changed."""
    st.session_state[_OUTCOME] = (outcome.ok, outcome.message)
    st.rerun()


def _last_outcome() -> None:
    """The outcome of the action that drew the page again, once."""
    shown = st.session_state.pop(_OUTCOME, None)
    if shown is None:
        return
    ok, message = shown
    (st.success if ok else st.error)(md.text(message))


def _refused_note(refused: str | None) -> None:
    if refused:
        st.caption(f"🔒 {md.text(refused)}")


def job_operations(viewer: Viewer, job: str, paused: bool) -> None:
    """Trigger a run with parameters; pause or unpause the schedule."""
    if not operations_on(viewer):
        return
    st.subheader("Operations")
    _last_outcome()
    left, right = st.columns(2)
    with left:
        operator, refused = _gate(viewer, Action.TRIGGER)
        with st.form("op-trigger", border=True):
            text = st.text_area("Parameters", key="op-trigger-params", help=_PARAM_HELP)
            pressed = st.form_submit_button(
                "Trigger a run", key="op-trigger", disabled=refused is not None
            )
        _refused_note(refused)
        if pressed:
            params = [line for line in text.splitlines() if line.strip()]
            _show(perform.trigger(viewer.settings, operator, job, params))
    with right:
        operator, refused = _gate(viewer, Action.PAUSE)
        label = "Unpause the schedule" if paused else "Pause the schedule"
        if st.button(label, key="op-pause", disabled=refused is not None):
            _show(perform.pause(viewer.settings, operator, job, not paused))
        _refused_note(refused)


def run_operations(viewer: Viewer, run: RunRow) -> None:
    """Cancel a running run; rerun a failed or cancelled one's unsuccessful tasks."""
    if not operations_on(viewer):
        return
    st.subheader("Operations")
    _last_outcome()
    subject = RunSubject(run.id, run.job, run.state, run.trigger, run.logical_time.isoformat())
    left, right = st.columns(2)
    with left:
        operator, refused = _gate(viewer, Action.CANCEL)
        running = run.state is RunState.RUNNING
        if st.button(
            "Cancel this run", key="op-cancel", disabled=refused is not None or not running
        ):
            _show(perform.cancel(viewer.settings, operator, subject))
        _refused_note(refused)
    with right:
        operator, refused = _gate(viewer, Action.RERUN)
        finished = run.state in (RunState.FAILED, RunState.CANCELLED)
        if st.button(
            "Rerun the failed tasks", key="op-rerun", disabled=refused is not None or not finished
        ):
            _show(perform.rerun(viewer.settings, operator, subject))
        _refused_note(refused)


def alert_operations(
    viewer: Viewer, firing: tuple[AlertRow, ...], silences: tuple[SilenceRow, ...]
) -> None:
    """Acknowledge a firing alert; add a silence; expire one."""
    if not operations_on(viewer):
        return
    st.subheader("Operations")
    _last_outcome()
    left, middle, right = st.columns(3)
    with left:
        operator, refused = _gate(viewer, Action.ACKNOWLEDGE)
        names = {f"{a.alertname} · {a.job}": a for a in firing}
        choice = st.selectbox("Firing alert", list(names), key="op-ack-alert")
        disabled = refused is not None or choice is None
        if st.button("Acknowledge", key="op-ack", disabled=disabled) and choice is not None:
            alert = names[choice]
            _show(perform.acknowledge(viewer.settings, operator, alert.fingerprint, choice))
        _refused_note(refused)
    operator, refused = _gate(viewer, Action.SILENCE)
    with middle, st.form("op-silence", border=True):
        matchers = st.text_input(
            "Matchers",
            key="op-silence-matchers",
            help="e.g. job=nightly-etl, severity=~warning|info (as `runwatch silence add`)",
        )
        duration = st.text_input("Duration", value="2h", key="op-silence-duration")
        comment = st.text_input("Comment", key="op-silence-comment")
        pressed = st.form_submit_button(
            "Add the silence", key="op-silence", disabled=refused is not None
        )
    if pressed:
        with middle:
            _show(perform.add_silence(viewer.settings, operator, [matchers], duration, comment))
    with right:
        ids = {f"#{s.id}: {', '.join(s.matchers)}": s.id for s in silences}
        picked = st.selectbox("Active silence", list(ids), key="op-expire-silence")
        disabled = refused is not None or picked is None
        if st.button("Expire it now", key="op-expire", disabled=disabled) and picked is not None:
            _show(perform.expire_silence_now(viewer.settings, operator, ids[picked]))
        _refused_note(refused)


def history(viewer: Viewer, rows: list[OperationRow], key: str) -> None:
    """The operations done on this page's subject, newest first (nothing when none)."""
    if not rows:
        return
    st.subheader("Operations log")
    st.dataframe(
        [
            {
                "when": viewer.time(r.at),
                "who": r.user,
                "action": r.action,
                "on": r.subject,
                "detail": r.detail,
            }
            for r in rows
        ],
        hide_index=True,
        key=key,
        column_config={
            "when": st.column_config.TextColumn(f"when ({viewer.zone})", width=150),
            "who": st.column_config.TextColumn("who", width=180),
            "action": st.column_config.TextColumn("action", width=90),
            "on": st.column_config.TextColumn("on", width=160),
            "detail": st.column_config.TextColumn("detail", width=300),
        },
    )
