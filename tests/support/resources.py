"""Generic API tests of a resource, as NetBox's APIViewTestCases: a resource's test class declares its
data and inherits the tests every resource must pass.

    class TestZoneAPI(ResourceAPITests):
        url = "/api/v1/zones/"
        model = Zone
        kind = "Zone"                       # its jobs: createZone, updateZone, deleteZone
        create_data = {"name": "ZONE1"}     # or a method, when it needs rows (a parent's uuid)
        ...

A test whose data a resource does not declare (no update, no unique name...) is not collected for it.
The resource's own file then keeps only its domain tests (its rules and their error bodies).
"""

from apps.core.models import Job
from tests.support.api import body, error

MISSING = "00000000-0000-0000-0000-000000000000"


def _data(value, test):
    return value(test) if callable(value) else value


class ResourceAPITests:
    url = None  # "/api/v1/<plural>/"
    model = None
    kind = None  # "Zone": the jobs are create<kind>, update<kind> and delete<kind> unless named below
    create_kind = update_kind = delete_kind = None
    name_field = "name"  # what the list and filter tests compare
    id_field = "uuid"  # the answer's key holding the row's uuid ("id" in Neutron's forms)

    # A valid POST, and the fields its answer must show (the rest of the answer is the show test's).
    create_data = None
    create_expected = {}
    # True when a create answers 202 with its queued job (adding a host): the row is shown at once.
    create_answers_job = False
    # A PATCH that works, read back as sent unless update_expected says otherwise.
    update_data = None
    update_expected = None
    # {field: (a value the PATCH tries, the message refusing it)}: fields fixed once created.
    frozen_fields = {}
    # The exact error of create_data posted twice (None: the resource has no unique name).
    duplicate_error = None
    # The exact error of an empty POST: the first required field, named.
    required_error = None
    # A resource the API only shows (rows made by a service elsewhere): writes answer 405.
    read_only = False
    # Queries of a list page (session, user, count, page...): the same for 1 row or 5.
    list_queries = None

    # test -> the declarations it needs; a subclass missing one does not get that test.
    NEEDS = {
        "test_list_keeps_a_constant_number_of_queries": ("list_queries",),
        "test_filters": ("filters",),
        "test_create_records_its_job": ("create_data",),
        "test_update_records_its_job": ("update_data",),
        "test_frozen_fields_cannot_change": ("frozen_fields",),
        "test_duplicate_is_409": ("create_data", "duplicate_error"),
        "test_empty_post_names_the_required_field": ("required_error",),
        "test_delete_records_its_job": ("kind",),
        "test_writes_are_refused": ("read_only",),
    }

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for test, needs in cls.NEEDS.items():
            if not all(cls._declares(name) for name in needs):
                setattr(cls, test, None)  # pytest collects no test from an attribute that is not a function

    @classmethod
    def _declares(cls, name):
        value = getattr(cls, name)
        if name == "filters":
            return value is not ResourceAPITests.filters
        if name == "kind":
            return bool(value or cls.delete_kind)
        if isinstance(value, bool):
            return value
        return value is not None and value != {}

    def make(self, i):
        """The i-th row of this resource, made with the factories (distinct names for every i)."""
        raise NotImplementedError

    def filters(self):
        """[(query params, [names listed])] over rows made here: each filter the resource offers."""
        return []

    # --- helpers --------------------------------------------------------------------------------

    def detail(self, obj_or_uuid):
        return f"{self.url}{getattr(obj_or_uuid, 'pk', obj_or_uuid)}/"

    def job(self, kind, target_id):
        return Job.objects.get(kind=kind or "", target_id=str(target_id))

    # --- the tests ------------------------------------------------------------------------------

    def test_list(self, api):
        made = [self.make(i) for i in range(3)]
        page = body(api.get(self.url), 200)
        assert page["count"] == 3
        assert sorted(row[self.id_field] for row in page["results"]) == sorted(str(o.pk) for o in made)

    def test_list_keeps_a_constant_number_of_queries(self, api, django_assert_num_queries):
        self.make(0)
        with django_assert_num_queries(self.list_queries):
            assert body(api.get(self.url), 200)["count"] == 1
        for i in range(1, 5):
            self.make(i)
        with django_assert_num_queries(self.list_queries):
            assert body(api.get(self.url), 200)["count"] == 5

    def test_filters(self, api):
        for params, names in self.filters():
            listed = body(api.get(self.url, params), 200)["results"]
            assert [row[self.name_field] for row in listed] == names, params

    def test_show(self, api):
        obj = self.make(0)
        shown = body(api.get(self.detail(obj)), 200)
        assert shown[self.id_field] == str(obj.pk) and shown[self.name_field] == getattr(obj, self.name_field)
        listed = body(api.get(self.url), 200)["results"]
        assert listed == [shown], "the list shows each row as its own page does"

    def test_create_records_its_job(self, api):
        reply = api.post(self.url, _data(type(self).create_data, self), format="json")
        kind = self.create_kind or f"create{self.kind}"
        if self.create_answers_job:
            queued = body(reply, 202)["job"]
            assert (queued["kind"], queued["state"]) == (kind, "queued")
            created = body(api.get(self.detail(queued["target_id"])), 200)
        else:
            created = body(reply, 201)
            assert body(api.get(self.detail(created[self.id_field])), 200) == created
        assert {k: created[k] for k in self.create_expected} == self.create_expected
        obj = self.model.objects.get(pk=created[self.id_field])
        job = self.job(kind, obj.pk)
        assert (job.state, job.target_name) == ("queued" if self.create_answers_job else "succeeded", str(obj))

    def test_update_records_its_job(self, api):
        obj = self.make(0)
        updated = body(api.patch(self.detail(obj), self.update_data, format="json"), 200)
        expected = self.update_expected or self.update_data
        assert {k: updated[k] for k in expected} == expected
        assert body(api.get(self.detail(obj)), 200) == updated
        assert self.job(self.update_kind or f"update{self.kind}", obj.pk).state == "succeeded"

    def test_frozen_fields_cannot_change(self, api):
        obj = self.make(0)
        before = body(api.get(self.detail(obj)), 200)
        for field, (value, message) in self.frozen_fields.items():
            value = value(self) if callable(value) else value
            assert error(api.patch(self.detail(obj), {field: value}, format="json"), 400) == {
                "code": "invalid", "field": field, "message": message}
        assert body(api.get(self.detail(obj)), 200) == before

    def test_delete_records_its_job(self, api):
        obj = self.make(0)
        assert api.delete(self.detail(obj)).status_code == 204
        assert not self.model.objects.filter(pk=obj.pk).exists()
        job = self.job(self.delete_kind or f"delete{self.kind}", obj.pk)
        assert (job.state, job.target_name) == ("succeeded", str(obj))

    def test_unknown_is_404(self, api):
        for url in (self.detail(MISSING), self.detail("not-a-uuid")):
            responses = [api.get(url)]
            if self.update_data or self.frozen_fields:
                responses.append(api.patch(url, {}, format="json"))
            if not self.read_only:
                responses.append(api.delete(url))
            for response in responses:
                assert error(response, 404)["code"] == "not_found", url

    def test_writes_are_refused(self, api):
        obj = self.make(0)
        for response in (api.post(self.url, {}, format="json"), api.patch(self.detail(obj), {}, format="json"),
                         api.delete(self.detail(obj))):
            assert error(response, 405)["code"] == "method_not_allowed"
        assert self.model.objects.filter(pk=obj.pk).exists()

    def test_duplicate_is_409(self, api):
        data = _data(type(self).create_data, self)
        assert api.post(self.url, data, format="json").status_code == (202 if self.create_answers_job else 201)
        assert error(api.post(self.url, data, format="json"), 409) == self.duplicate_error
        assert self.model.objects.count() == 1

    def test_empty_post_names_the_required_field(self, api):
        assert error(api.post(self.url, {}, format="json"), 400) == self.required_error
        assert not self.model.objects.exists()
