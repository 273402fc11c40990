import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Make sure the admin account exists (password from NIMBO_ADMIN_PASSWORD, else generated once)."

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("NIMBO_ADMIN_USER", "admin")
        password = os.environ.get("NIMBO_ADMIN_PASSWORD")
        path = settings.VAR_DIR / "admin_password"
        user = User.objects.filter(username=username).first()
        if password:
            if user is None:
                User.objects.create_superuser(username, "", password)
                self.stdout.write(f"Created admin account '{username}' with the password from NIMBO_ADMIN_PASSWORD.")
            elif not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
                self.stdout.write(f"Set the password of '{username}' from NIMBO_ADMIN_PASSWORD.")
            return
        if user is not None:
            hint = f" (first generated password kept in {path})" if path.exists() else ""
            self.stdout.write(f"Admin account '{username}' exists{hint}.")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username, "", password)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        banner = "=" * 64
        self.stdout.write(
            f"{banner}\nCreated admin account '{username}' with password: {password}\n"
            f"(kept in {path}; set NIMBO_ADMIN_PASSWORD to choose your own)\n{banner}"
        )
