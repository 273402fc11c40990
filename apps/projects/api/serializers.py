from django.contrib.auth import get_user_model
from rest_framework import serializers

from apps.core.api.serializers import NimboModelSerializer
from apps.projects.models import Membership, Project, QuotaName, Role


class MembershipSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.all())
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)

    class Meta:
        model = Membership
        fields = ["user", "role", "is_default"]


class ProjectSerializer(NimboModelSerializer):
    memberships = MembershipSerializer(many=True, read_only=True)

    class Meta:
        model = Project
        fields = ["uuid", "name", "description", "memberships", "created", "updated"]


class QuotaSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=QuotaName.choices)
    limit = serializers.IntegerField(min_value=0)
    used = serializers.IntegerField(read_only=True)
