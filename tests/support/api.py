"""Helpers for API tests: exact replies with the volatile parts (times) set aside."""

VOLATILE = ("created", "updated")


def body(response, status):
    """The JSON body of `response` after checking its status; times removed at every level."""
    assert response.status_code == status, (response.status_code, response.content)
    return without_times(response.json())


def error(response, status):
    assert response.status_code == status, (response.status_code, response.content)
    return response.json()["error"]


def without_times(data):
    if isinstance(data, dict):
        return {k: without_times(v) for k, v in data.items() if k not in VOLATILE}
    if isinstance(data, list):
        return [without_times(v) for v in data]
    return data
