"""DRF's one clear-text token per account becomes an ``ApiToken``: its
SHA-512 digest is kept, the clear row deleted, so a client holding the old
key keeps working until the new expiry, and the key is stored nowhere."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS


def hash_old_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    ApiToken = apps.get_model("accounts", "ApiToken")
    expiry = timezone.now() + settings.REST_KNOX["TOKEN_TTL"]
    for token in Token.objects.filter(user__is_active=True).iterator():
        ApiToken.objects.create(
            digest=hash_token(token.key),
            token_key=token.key[: CONSTANTS.TOKEN_KEY_LENGTH],
            user_id=token.user_id,
            expiry=expiry,
        )
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_api_tokens"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(hash_old_tokens, migrations.RunPython.noop)]
