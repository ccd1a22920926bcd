"""``manage.py deliveries ...`` run in process, as the shell tests run it."""

import io

import pytest
from django.core.management import CommandError, call_command


def deliveries(*args) -> tuple[str, str]:
    """What ``manage.py deliveries ...`` printed on stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command("deliveries", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*args) -> CommandError:
    """The error ``manage.py deliveries ...`` refused with."""
    with pytest.raises(CommandError) as error:
        deliveries(*args)
    return error.value
