"""Job handlers used only by the tests of the job runner itself."""

from pathlib import Path

from apps.core.exceptions import JobFailed


def count_to(ctx, n=3, fail_at=None, crash_at=None, marker=None):
    """Three steps of work; can fail as a user-readable failure or crash unexpectedly."""
    if marker:
        Path(marker).write_text("half-written")
        ctx.on_failure(lambda: Path(marker).unlink(missing_ok=True))
    for i in range(1, n + 1):
        with ctx.step(f"step {i}", progress=100 * i // n):
            if i == fail_at:
                raise JobFailed(f"step {i} could not reach the host")
            if i == crash_at:
                raise RuntimeError("boom")
    return {"counted": n}
