"""Every process that sets Django up tunes Python's cycle collector for the capture engine."""

import gc

from leadloop.core.apps import YOUNG_OBJECTS_COLLECTED_FROM


def test_start_up_objects_are_left_out_and_young_ones_collected_in_large_rounds():
    assert gc.get_freeze_count() > 10_000  # Django, the apps and their models at least
    assert gc.get_threshold()[0] == YOUNG_OBJECTS_COLLECTED_FROM
    assert gc.isenabled()
