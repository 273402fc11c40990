"""The Nimbo guest image (built by `make image`, scripts/build-guest-image.sh): where it is, how to log in.

It is the sample image offered for scenario 01 (`sample_image_url()`, a file:// URL that works
offline). Root logs in with GUEST_PASSWORD or the public test key GUEST_KEY.
"""

import hashlib
import subprocess
from pathlib import Path

from django.conf import settings

IMAGES_DIR = Path(settings.BASE_DIR) / "images"
GUEST_IMAGE = IMAGES_DIR / "nimbo-guest.qcow2"
BUILD_SCRIPT = Path(settings.BASE_DIR) / "scripts" / "build-guest-image.sh"
GUEST_KEY = IMAGES_DIR / "nimbo-guest-key"
GUEST_PASSWORD = "nimbo"
SAMPLE_IMAGE_NAME = "zs-sample-image"


def sample_image_url():
    return GUEST_IMAGE.as_uri()


def is_built():
    return GUEST_IMAGE.is_file()


def is_current():
    """Built, and from the build script as it is now (the script records its own hash next to the image)."""
    recipe = GUEST_IMAGE.with_name(GUEST_IMAGE.name + ".recipe")
    if not (is_built() and recipe.is_file()):
        return False
    return recipe.read_text().strip() == hashlib.sha256(BUILD_SCRIPT.read_bytes()).hexdigest()


def ensure_built(timeout=900):
    """Build the image (`make image`) unless the current one was built by the current script."""
    if not is_current():
        subprocess.run([str(BUILD_SCRIPT)], check=True, capture_output=True, timeout=timeout)
    return GUEST_IMAGE
