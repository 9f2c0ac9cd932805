"""factory_boy factories for the standard cast and the organization core."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.models import User
from organizations.models import Administrator, AdministratorRole, Department, Member, MemberDepartment, Organization

TEST_PASSWORD = "Correct-Horse-42"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("phone",)
        skip_postgeneration_save = True

    # +86 138 xxxx xxxx numbers are valid mainland mobiles for phonenumbers.
    phone = factory.Sequence(lambda n: f"+86138{n:08d}")
    name = factory.Faker("name", locale="zh_CN")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    location = "Hangzhou"
    industry = "Software"


class DepartmentFactory(DjangoModelFactory):
    """Creates a department and fills its materialized path from its parent."""

    class Meta:
        model = Department

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Department {n}")
    parent = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        department = super()._create(model_class, *args, **kwargs)
        parent = department.parent
        department.path = department.compute_path(parent.path if parent else "")
        department.depth = parent.depth + 1 if parent else 0
        department.save(update_fields=["path", "depth"])
        return department


class MemberFactory(DjangoModelFactory):
    class Meta:
        model = Member
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Faker("name", locale="zh_CN")
    status = "active"

    @factory.post_generation
    def department(obj, create, extracted, **kwargs):
        if create and extracted is not None:
            MemberDepartment.objects.create(member=obj, department=extracted, is_primary=True)


class AdministratorFactory(DjangoModelFactory):
    class Meta:
        model = Administrator
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = AdministratorRole.SUB_ADMIN

    @factory.post_generation
    def scope(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.scope.set(extracted)


def verified_session():
    """SEC-1: the assurance of a session that passed the second factor and proved who it
    is just now -- what minting an API token asks for (``accounts.assurance``)."""
    import time

    from accounts.assurance import Assurance, Channel

    return Assurance(Channel.SESSION, second_factor=True, proof_at=int(time.time()))
