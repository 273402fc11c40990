from tests.infra.conftest import sandbox_phys, sandboxes  # noqa: F401 - sandbox hosts for storage on hosts
