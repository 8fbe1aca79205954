"""A token form sent twice at the same instant (a double click) on PostgreSQL makes one token."""

import pytest

from leadloop.core.models import ApiToken
from leadloop.core.services import TokenMarkUsed, token_create
from tests.core.support import burst

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_one_form_sent_four_times_at_once_makes_one_token(team):
    def send(_i: int):
        try:
            return token_create(
                workspace=team.workspace,
                actor=team.actors["admin"],
                name="Zapier",
                role="marketer",
                form_mark="one-form",
            )
        except TokenMarkUsed:
            return None

    made = [result for result in burst(4, send) if result]
    assert len(made) == 1 and ApiToken.objects.filter(name="Zapier").count() == 1
