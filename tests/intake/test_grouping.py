"""Group commit: concurrent single captures are played as one batch, each with its own answer."""

import threading

from leadloop.intake.grouping import GroupCommit


class Recorder:
    """A play function that records its batches; the first batch waits until released."""

    def __init__(self, fail_on=None):
        self.batches: list[list] = []
        self.started, self.release = threading.Event(), threading.Event()
        self.fail_on = fail_on

    def __call__(self, key, items):
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(5)
        if self.fail_on in items:
            raise ValueError(f"bad item {self.fail_on}")
        return [(key, item * 10) for item in items]


def submit_in_threads(group, key, items) -> tuple[list, dict, dict]:
    answers, errors = {}, {}

    def run(item):
        try:
            answers[item] = group.submit(key, item)
        except ValueError as exc:
            errors[item] = str(exc)

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return threads, answers, errors


def test_a_lone_request_is_played_at_once_as_a_batch_of_one():
    play = Recorder()
    play.release.set()
    group = GroupCommit(play)
    assert group.submit("ws", 1) == ("ws", 10)
    assert group.submit("ws", 2) == ("ws", 20)
    assert play.batches == [[1], [2]]


def test_requests_arriving_during_a_batch_are_played_together_with_their_own_answers():
    play = Recorder()
    group = GroupCommit(play)
    first, answers, _errors = submit_in_threads(group, "ws", [1])
    assert play.started.wait(5)
    rest, more, _errors = submit_in_threads(group, "ws", [2, 3, 4, 5, 6])
    while sum(len(q) for q in group._queued.values()) < 5:  # all five are waiting
        threading.Event().wait(0.001)
    play.release.set()
    for thread in first + rest:
        thread.join(5)
    assert play.batches[0] == [1]
    assert sorted(play.batches[1]) == [2, 3, 4, 5, 6] and len(play.batches) == 2
    assert answers | more == {n: ("ws", n * 10) for n in range(1, 7)}


def test_other_keys_are_not_held_up_by_a_busy_one():
    play = Recorder()
    group = GroupCommit(play)
    first, _answers, _errors = submit_in_threads(group, "busy", [1])
    assert play.started.wait(5)
    assert group.submit("other", 7) == ("other", 70)
    play.release.set()
    first[0].join(5)


def test_an_error_of_a_batch_reaches_every_request_of_it_and_the_next_batch_plays():
    play = Recorder(fail_on=3)
    group = GroupCommit(play)
    first, answers, _errors = submit_in_threads(group, "ws", [1])
    assert play.started.wait(5)
    rest, _more, errors = submit_in_threads(group, "ws", [2, 3])
    while sum(len(q) for q in group._queued.values()) < 2:
        threading.Event().wait(0.001)
    play.release.set()
    for thread in first + rest:
        thread.join(5)
    assert answers == {1: ("ws", 10)}
    assert errors == {2: "bad item 3", 3: "bad item 3"}
    assert group.submit("ws", 4) == ("ws", 40)
