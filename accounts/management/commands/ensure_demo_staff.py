from django.core.management.base import BaseCommand, CommandError

from accounts.commands import GrantStaff, RegisterAccount
from accounts.queries import account_id_for_username
from accounts.values import Email, Password, Username
from messaging import bus


class Command(BaseCommand):
    help = "Make sure a staff login exists for trying the product (registered through the bus), and print it."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin-demo-password")
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args, username, password, email, **options):
        result = bus.dispatch(
            RegisterAccount(email=Email(email), username=Username(username), password=Password(password))
        )
        if result.rejection and result.rejection.code != "account_already_exists":
            raise CommandError(f"{result.rejection.code}: {result.rejection.reason}")
        account_id = account_id_for_username(username)
        bus.dispatch(GrantStaff(account_id=account_id))
        if result.ok:
            self.stdout.write(f"Demo staff login: {username} / {password}")
        else:
            self.stdout.write(f"Demo staff login: {username} (already there; password as first printed)")
