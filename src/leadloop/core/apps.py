import gc

from django.apps import AppConfig

# Python collects its young objects every 700 new ones by default. A capture of 1,000 leads
# keeps ~40,000 new objects alive until it is written, so the collector ran ~60 times a chunk
# over them, and its full collections walked everything loaded at start-up (~50 ms each): a
# tenth of an import's Python CPU, and pauses of every request in a web process. The capture
# makes few reference cycles, so the young objects are collected once 100,000 are pending,
# and what start-up loaded (Django, the models, the phone metadata) is left out of the walks.
YOUNG_OBJECTS_COLLECTED_FROM = 100_000


class CoreConfig(AppConfig):
    name = "leadloop.core"
    label = "core"

    def ready(self) -> None:
        gc.collect()  # what start-up left for the collector, before the rest is frozen
        gc.freeze()
        gc.set_threshold(YOUNG_OBJECTS_COLLECTED_FROM)
