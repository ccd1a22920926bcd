#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from config import telemetry

    telemetry.setup()  # when OTEL_* asks for it: the relay loop's deliveries and a send_command's spans
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
