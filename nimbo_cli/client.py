"""A small REST client: token auth, the API's error body turned into one readable line."""

import json
import os
from pathlib import Path

import requests

CONFIG = Path(os.environ.get("NIMBO_CONFIG", Path.home() / ".config" / "nimbo" / "config.json"))


class ApiError(Exception):
    def __init__(self, status, error):
        self.status = status
        self.error = error
        field = error.get("field")
        named = f" (field: {field})" if field else ""
        super().__init__(f"{error.get('message', 'error')}{named} [HTTP {status}]")


def load_config():
    if CONFIG.exists():
        return json.loads(CONFIG.read_text())
    return {}


def save_config(data):
    CONFIG.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(CONFIG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)


class Client:
    def __init__(self, url, token=None, timeout=30, project=None):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.timeout = timeout
        if token:
            self.session.headers["Authorization"] = f"Token {token}"
        if project:  # the project the calls act in (the server checks the role there)
            self.session.headers["X-Nimbo-Project"] = project

    def request(self, method, path, **kwargs):
        url = path if path.startswith("http") else f"{self.url}/api/v1/{path.lstrip('/')}"
        response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            try:
                error = response.json().get("error") or {"message": response.text}
            except ValueError:
                error = {"message": response.text[:200] or response.reason}
            raise ApiError(response.status_code, error)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path, **params):
        return self.request("GET", path, params=params)

    def post(self, path, data=None):
        return self.request("POST", path, json=data or {})

    def patch(self, path, data):
        return self.request("PATCH", path, json=data)

    def delete(self, path, **params):
        return self.request("DELETE", path, params=params)

    def list_all(self, path, **params):
        """Every row of a paginated list."""
        page = self.get(path, limit=1000, **params)
        rows = list(page["results"])
        while page.get("next"):
            page = self.request("GET", page["next"])
            rows += page["results"]
        return rows

    def find(self, collection, ident):
        """An object of `collection` by uuid or by exact name (which must then be unambiguous)."""
        try:
            return self.get(f"{collection}/{ident}/")
        except ApiError as exc:
            if exc.status != 404:
                raise
        matches = [row for row in self.list_all(f"{collection}/", search=ident) if row.get("name") == ident]
        if not matches:
            raise ApiError(404, {"message": f"No {collection.rstrip('s')} named or with id {ident!r}."})
        if len(matches) > 1:
            raise ApiError(409, {"message": f"More than one {collection.rstrip('s')} is named {ident!r}; use its id."})
        return matches[0]
