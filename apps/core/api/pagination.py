from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """?limit=&offset=, with `count`, `next`, `previous`, `results` (as NetBox does)."""

    default_limit = 50
    max_limit = 1000
