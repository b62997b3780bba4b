"""A Django app that hands work to errand's workers: its database is errand's PostgreSQL (DATABASE_URL)."""
import os
from urllib.parse import unquote, urlparse

url = urlparse(os.environ["DATABASE_URL"])
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": unquote(url.username or ""),
        "PASSWORD": unquote(url.password or ""),
        "HOST": url.hostname or "127.0.0.1",
        "PORT": url.port or 5432,
    }
}
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "an example's key: set DJANGO_SECRET_KEY in production")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "shop.urls"
INSTALLED_APPS = []
MIDDLEWARE = []
USE_TZ = True
