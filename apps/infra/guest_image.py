"""The Nimbo guest image (built by `make image`, scripts/build-guest-image.sh): where it is, how to log in.

It is the sample image offered for scenario 01 (`sample_image_url()`, a file:// URL that works
offline). Root logs in with GUEST_PASSWORD or the public test key GUEST_KEY.
"""

from pathlib import Path

from django.conf import settings

IMAGES_DIR = Path(settings.BASE_DIR) / "images"
GUEST_IMAGE = IMAGES_DIR / "nimbo-guest.qcow2"
GUEST_KEY = IMAGES_DIR / "nimbo-guest-key"
GUEST_PASSWORD = "nimbo"
SAMPLE_IMAGE_NAME = "zs-sample-image"


def sample_image_url():
    return GUEST_IMAGE.as_uri()


def is_built():
    return GUEST_IMAGE.is_file()
