"""Personal data sealed under a key per person: what is sealed opens for as
long as the key exists, reads as its placeholder once the person is
forgotten (also when it is sealed after that), cannot be moved to another
person or field, and survives a rotation of the wrapping key."""

import base64
import io
import os
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from accounts.commands import RegisterAccount
from accounts.values import Email, Password, Username
from messaging import bus, personal, store
from messaging.features.outbox import MailQueued
from messaging.models import PersonalDataKey, StoredEvent

pytestmark = pytest.mark.django_db


def new_wrapping_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_a_sealed_value_opens_with_its_subjects_key_and_nowhere_else():
    # given Ann's and Bob's keys, and Ann's e-mail sealed for her
    ann, bob = uuid.uuid4(), uuid.uuid4()
    keys = personal.keys_to_seal_for([ann, bob])
    sealed = personal.seal_value(keys, ann, "email", "ann@example.com")

    # then it holds nothing readable, opens for Ann's field, and for nothing else
    assert "ann" not in sealed
    assert personal.open_value(personal.keys_for([ann]), ann, "email", sealed) == "ann@example.com"
    assert personal.open_value(personal.keys_for([bob]), bob, "email", sealed) == personal.FORGOTTEN
    assert personal.open_value(personal.keys_for([ann]), ann, "username", sealed) == personal.FORGOTTEN


def test_forgetting_makes_what_was_sealed_and_what_is_sealed_later_read_as_the_placeholder():
    # given Ann's e-mail sealed for her
    ann = uuid.uuid4()
    sealed = personal.seal_value(personal.keys_to_seal_for([ann]), ann, "email", "ann@example.com")

    # when she is forgotten, and a late writer seals her name again
    assert personal.forget(ann) is True
    late = personal.seal_value(personal.keys_to_seal_for([ann]), ann, "username", "ann")

    # then neither opens, no new key was made, and forgetting again does nothing
    assert personal.open_value(personal.keys_for([ann]), ann, "email", sealed) == personal.FORGOTTEN
    assert late == personal.FORGOTTEN
    assert PersonalDataKey.objects.get(subject=ann).key is None
    assert personal.forget(ann) is False


def test_a_registration_is_stored_sealed_and_loads_in_clear():
    # when Ann registers
    command = RegisterAccount(
        email=Email("ann.sealed@example.com"), username=Username("ann_sealed"), password=Password("a long secret 123")
    )
    registered, _verify = bus.dispatch(command).events

    # then the stored row holds neither, and the event loads as she gave them
    row = StoredEvent.objects.get(event_id=registered.event_id)
    assert "ann" not in str(row.payload) and row.version == 2
    loaded = store.load(row)
    assert (loaded.email, loaded.username) == ("ann.sealed@example.com", "ann_sealed")


def test_a_rotated_wrapping_key_still_opens_everything_and_the_old_one_can_go(settings):
    # given Ann's e-mail sealed under a key wrapped by the first wrapping key
    ann, old = uuid.uuid4(), settings.MESSAGING_PERSONAL_DATA_KEYS[0]
    sealed = personal.seal_value(personal.keys_to_seal_for([ann]), ann, "email", "ann@example.com")

    # when a new wrapping key comes first and the keys are rewrapped
    settings.MESSAGING_PERSONAL_DATA_KEYS = [new_wrapping_key(), old]
    out = io.StringIO()
    call_command("rotate_personal_data_key", stdout=out, stderr=io.StringIO())

    # then the old wrapping key is no longer needed
    settings.MESSAGING_PERSONAL_DATA_KEYS = settings.MESSAGING_PERSONAL_DATA_KEYS[:1]
    assert "0 wrapped by another key" in out.getvalue()
    assert personal.open_value(personal.keys_for([ann]), ann, "email", sealed) == "ann@example.com"


def test_the_database_alone_opens_nothing_without_the_wrapping_key(settings):
    # given Ann's e-mail sealed, and a thief with the database but another wrapping key
    ann = uuid.uuid4()
    sealed = personal.seal_value(personal.keys_to_seal_for([ann]), ann, "email", "ann@example.com")
    settings.MESSAGING_PERSONAL_DATA_KEYS = [new_wrapping_key()]

    # then her data key cannot even be unwrapped
    with pytest.raises(ImproperlyConfigured, match="no longer holds"):
        personal.open_value(personal.keys_for([ann]), ann, "email", sealed)


def test_what_a_mail_says_is_sealed_for_its_recipient_and_an_empty_one_needs_no_key():
    # given a mail to Ann that says something of its own, and one to Bob that says nothing
    ann, bob = uuid.uuid4(), uuid.uuid4()
    said = {
        "message_id": "<1@x>",
        "recipient_id": str(ann),
        "renderer": "r",
        "about": None,
        "params": {"reason": "late"},
    }
    silent = {**said, "recipient_id": str(bob), "params": {}}

    # when both are sealed
    sealed = personal.seal_payload(MailQueued, said, personal.keys_to_seal_for(personal.subjects_of(MailQueued, said)))
    quiet = personal.seal_payload(
        MailQueued, silent, personal.keys_to_seal_for(personal.subjects_of(MailQueued, silent))
    )

    # then the words are sealed and open again; the empty one asked for no key at all
    assert isinstance(sealed["params"], str) and "late" not in sealed["params"]
    assert personal.open_payload(MailQueued, sealed, personal.keys_for([ann]))["params"] == {"reason": "late"}
    assert quiet["params"] == {} and not PersonalDataKey.objects.filter(subject=bob).exists()
    assert personal.subjects_of(MailQueued, silent) == set()
