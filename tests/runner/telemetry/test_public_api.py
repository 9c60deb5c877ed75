"""runner.telemetry's public names: __all__ is honest and every name imports."""

from __future__ import annotations

import runner.telemetry


def test_every_name_in_all_is_importable_from_the_package() -> None:
    for name in runner.telemetry.__all__:
        assert getattr(runner.telemetry, name) is not None, name


def test_all_lists_exactly_the_names_the_package_offers() -> None:
    assert sorted(runner.telemetry.__all__) == runner.telemetry.__all__
    assert set(runner.telemetry.__all__) == set(runner.telemetry._HOMES)
