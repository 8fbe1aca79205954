from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def settings_ref(to, on_delete=models.SET_NULL, **options) -> models.ForeignKey:
    """A reference from a row that every capture writes (contact, lead, touch, timeline event,
    timer, notification) to one of the workspace's settings rows (the workspace, a member, a
    stage, source, campaign or channel): no index of its own, which only a deletion would use,
    and no database constraint, whose check at every commit cost more than the rest of it; the
    application never deletes those rows (docs/decisions.md). Optional unless `on_delete` says
    the row cannot be without it."""
    if on_delete is models.SET_NULL:
        options = {"null": True, "blank": True, **options}
    return models.ForeignKey(
        to, on_delete=on_delete, db_index=False, db_constraint=False, **options
    )


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MANAGER = "manager", _("Manager")
    MARKETER = "marketer", _("Marketer")
    SALES = "sales", _("Sales")


class Workspace(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="Asia/Ho_Chi_Minh")
    currency = models.CharField(max_length=3, default="VND")
    language = models.CharField(max_length=8, default="vi")
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.slug


class Team(models.Model):
    class Kind(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        SALES = "sales", _("Sales")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="team_unique_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    full_name = models.CharField(max_length=200)
    role = models.CharField(max_length=10, choices=Role.choices)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    capacity = models.PositiveIntegerField(default=0, help_text="Max open leads; 0: no limit")
    daily_limit = models.PositiveIntegerField(default=0, help_text="Max new leads a day; 0: none")
    weight = models.PositiveSmallIntegerField(default=1)  # share in weighted round robin
    away = models.BooleanField(default=False)  # the rep's own "not taking leads now" switch
    # {"0": [["08:00", "17:30"]], ...} by weekday (0 = Monday); empty: the business hours
    working_hours = models.JSONField(default=dict, blank=True)
    email_notifications = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    language = models.CharField(max_length=8, blank=True, default="")  # "": the browser's
    # the language the member's pages were last shown in, which what is written for a member of
    # "the browser's language" follows (notifications, toasts, e-mails)
    reading_language = models.CharField(max_length=8, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="member_unique_user")
        ]
        indexes = [models.Index(fields=["workspace", "role", "active"])]
        ordering = ["full_name", "id"]

    def __str__(self) -> str:
        return self.full_name

    @property
    def email(self) -> str:
        return self.user.email


class ApiToken(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=10, choices=Role.choices)
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.CASCADE)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"


class AuditLog(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    actor = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "at"])]
