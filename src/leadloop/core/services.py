import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import Conflict, ValidationFailed
from leadloop.core.joined import fetch_joined
from leadloop.core.models import ApiToken, AuditLog, Member, Role, Team, Workspace

TOKEN_PREFIX = "ll_"


def audit_record(*, actor: Actor, action: str, obj, data: dict | None = None) -> None:
    AuditLog.objects.create(
        workspace=actor.workspace,
        actor=actor.member,
        actor_label=actor.label,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=str(obj.pk),
        data=data or {},
        at=clock.now(),
    )


@transaction.atomic
def workspace_create(*, slug: str, name: str = "", preset: str = "telesales") -> Workspace:
    from leadloop.pipeline.services import stage_preset_apply

    clean = slugify(slug)
    if not clean or clean != slug or len(slug) > 50:
        raise ValidationFailed(
            _("Use lower-case letters, digits and dashes."), fields={"slug": [slug]}
        )
    if len(name) > 200:  # the column's size: longer fails on PostgreSQL
        raise ValidationFailed(_("At most 200 characters."), fields={"name": [name[:50]]})
    if Workspace.objects.filter(slug=slug).exists():
        raise Conflict(_("Workspace %(slug)s already exists.") % {"slug": slug})
    workspace = Workspace.objects.create(slug=slug, name=name or slug, created_at=clock.now())
    actor = Actor.system(workspace, "setup")
    stage_preset_apply(workspace=workspace, actor=actor, preset=preset)
    Team.objects.create(workspace=workspace, name="Marketing", kind=Team.Kind.MARKETING)
    Team.objects.create(workspace=workspace, name="Sales", kind=Team.Kind.SALES)
    return workspace


@transaction.atomic
def team_rename(*, team: Team, actor: Actor, name: str) -> Team:
    actor.require(actor.administers)
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed(_("A team needs a name and a kind."), fields={"name": [name]})
    same = _team_named(team.workspace, name)
    if same is not None and same.pk != team.pk:
        raise Conflict(_("A team with this name exists."), fields={"name": [name]})
    before, team.name = team.name, name
    try:
        with transaction.atomic():
            team.save(update_fields=["name"])
    except IntegrityError:  # renamed so concurrently
        raise Conflict(_("A team with this name exists."), fields={"name": [name]}) from None
    audit_record(actor=actor, action="team.rename", obj=team, data={"from": before, "to": name})
    return team


def _team_named(workspace: Workspace, name: str) -> Team | None:
    """The workspace's team of this name, whatever its case ("Nhóm Hà Nội", "nhóm hà nội")."""
    wanted = name.casefold()
    return next(
        (t for t in Team.objects.filter(workspace=workspace) if t.name.casefold() == wanted), None
    )


def team_create(*, workspace: Workspace, actor: Actor, name: str, kind: str) -> Team:
    actor.require(actor.administers)
    name = " ".join(name.split())
    if not name or kind not in Team.Kind.values:
        raise ValidationFailed(_("A team needs a name and a kind."), fields={"name": [name]})
    if _team_named(workspace, name):
        raise Conflict(_("A team with this name exists."), fields={"name": [name]})
    try:
        with transaction.atomic():
            team = Team.objects.create(workspace=workspace, name=name, kind=kind)
            audit_record(actor=actor, action="team.create", obj=team, data={"name": name})
    except IntegrityError:
        raise Conflict(_("A team with this name exists."), fields={"name": [name]}) from None
    return team


def _team_of(workspace: Workspace, actor: Actor, team: str | int | None, role: str) -> Team | None:
    """The team by id, or by name: a name new to the workspace makes a team, of marketing for
    a marketer, else of sales (as sources and campaigns are made on first use)."""
    if team in (None, ""):
        return None
    if isinstance(team, int):
        found = Team.objects.filter(workspace=workspace, id=team).first()
        if found is None:
            raise ValidationFailed(_("Unknown team."), fields={"team": [_("Unknown team.")]})
        return found
    name = " ".join(team.split())
    if len(name) > 100:
        too_long = _("At most 100 characters.")
        raise ValidationFailed(too_long, fields={"team": [too_long]})
    found = _team_named(workspace, name)
    kind = Team.Kind.MARKETING if role == Role.MARKETER else Team.Kind.SALES
    return found or team_create(workspace=workspace, actor=actor, name=name, kind=kind)


@transaction.atomic
def member_create(
    *,
    workspace: Workspace,
    actor: Actor,
    email: str,
    full_name: str,
    role: str,
    team: str | int | None = None,
    capacity: int = 0,
    active: bool = True,
    password: str | None = None,
    email_notifications: bool = False,
) -> Member:
    actor.require(actor.administers)
    email = email.strip().lower()
    full_name = " ".join(full_name.split())
    errors = {}
    local, _at, domain = email.rpartition("@")
    if not local or "." not in domain.strip(".") or " " in email:
        errors["email"] = [_("Enter a valid e-mail address.")]
    elif len(email) > 150:  # the sign-in name's column
        errors["email"] = [_("At most 150 characters.")]
    if not full_name:
        errors["full_name"] = [_("This field is required.")]
    elif len(full_name) > 200:  # the column's size: longer fails on PostgreSQL
        errors["full_name"] = [_("At most 200 characters.")]
    if role not in Role.values:
        errors["role"] = [_("Unknown role.")]
    if errors:
        raise ValidationFailed(_("The member is not valid."), fields=errors)
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=email, defaults={"email": email})
    if created:  # an existing user (a member elsewhere) keeps their password: no takeover
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    if Member.objects.filter(workspace=workspace, user=user).exists():
        raise Conflict(_("This person is already a member."), fields={"email": [email]})
    member = Member.objects.create(
        workspace=workspace,
        user=user,
        full_name=full_name,
        role=role,
        team=_team_of(workspace, actor, team, role),
        capacity=capacity,
        active=active,
        created_at=clock.now(),
        email_notifications=email_notifications,
    )
    audit_record(actor=actor, action="member.create", obj=member, data={"role": role})
    return member


@transaction.atomic
def member_update(*, member: Member, actor: Actor, **changes) -> Member:
    """Change a member. One this deactivates hands their open leads on; the member returned
    then carries `handed_on`: (leads handed on, leads left waiting in the queue)."""
    actor.require(actor.administers)
    if "role" in changes and changes["role"] not in Role.values:
        raise ValidationFailed(_("Unknown role."), fields={"role": [changes["role"]]})
    if "team" in changes:
        role = changes.get("role", member.role)
        changes["team"] = _team_of(member.workspace, actor, changes["team"], role)
    stays_admin = changes.get("role", member.role) == Role.ADMIN and changes.get("active", True)
    if member.role == Role.ADMIN and member.active and not stays_admin:
        _another_admin_kept(member)
    leaving = member.active and changes.get("active", True) is False
    for field in ("full_name", "role", "team", "active", "language"):  # routing: its own service
        if field in changes:
            setattr(member, field, changes[field])
    member.save()
    data = {k: str(v) for k, v in changes.items()}
    if leaving:
        from leadloop.routing.sla import open_leads_hand_on  # routing builds on core

        member.handed_on = open_leads_hand_on(member=member, actor=actor)
        data["handed_on"], data["queued"] = member.handed_on
    audit_record(actor=actor, action="member.update", obj=member, data=data)
    return member


def _another_admin_kept(member: Member) -> None:
    """Refuse to leave the workspace without an active admin (nobody could open its settings).
    The admins are locked in id order: two admins demoting each other wait for one another."""
    admins = Member.objects.select_for_update().filter(
        workspace_id=member.workspace_id, role=Role.ADMIN, active=True
    )
    if not [a for a in admins.order_by("pk") if a.pk != member.pk]:
        message = _("The workspace needs an active admin: make another member admin first.")
        raise ValidationFailed(message, fields={"role": [message]})


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def token_create(
    *,
    workspace: Workspace,
    actor: Actor,
    name: str,
    role: str,
    member: Member | None = None,
    form_mark: str = "",
) -> tuple[ApiToken, str]:
    """Create an API token; the plain key is returned once and only its hash is kept. A token
    that acts as a member has that member's role, whatever `role` says: it can do no more
    than the member. A page's form sends its `form_mark`: sent again, it makes no second
    token (TokenMarkUsed)."""
    actor.require(actor.administers)
    if form_mark:  # the same form sent twice at once (a double click): one after the other
        Workspace.objects.select_for_update().values_list("pk", flat=True).get(pk=workspace.pk)
    if form_mark and token_form_used(workspace=workspace, form_mark=form_mark):
        raise TokenMarkUsed(_("This form made its token already; its key was shown then."))
    if role not in Role.values:
        raise ValidationFailed(_("Unknown role."), fields={"role": [role]})
    if member is not None and member.workspace_id != workspace.pk:  # never act across tenants
        raise ValidationFailed(_("Unknown member."), fields={"member": [str(member.pk)]})
    if not name.strip() or len(name) > 100:
        message = _("Between 1 and 100 characters.")
        raise ValidationFailed(message, fields={"name": [message]})
    role = member.role if member is not None else role
    prefix = secrets.token_hex(5)
    key = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        workspace=workspace,
        name=name.strip(),
        role=role,
        member=member,
        prefix=prefix,
        key_hash=_hash_key(key),
        created_at=clock.now(),
    )
    data = {"role": role} | ({"form_mark": form_mark} if form_mark else {})
    audit_record(actor=actor, action="token.create", obj=token, data=data)
    return token, key


class TokenMarkUsed(Conflict):
    pass


def token_form_used(*, workspace: Workspace, form_mark: str) -> bool:
    """Whether a token was made with this form mark (the audit entry keeps it)."""
    made = AuditLog.objects.filter(workspace=workspace, action="token.create")
    return made.filter(data__form_mark=form_mark).exists()


def token_authenticate(key: str) -> ApiToken | None:
    parts = key.removeprefix(TOKEN_PREFIX).split("_", 1)
    if not key.startswith(TOKEN_PREFIX) or len(parts) != 2:
        return None
    found = fetch_joined(
        "SELECT {select} FROM {t} JOIN {w} ON w.id = t.workspace_id"
        " LEFT JOIN {m} ON m.id = t.member_id WHERE t.prefix = %s AND t.revoked_at IS NULL",
        [parts[0]],
        t=ApiToken,
        w=Workspace,
        m=Member,
    )  # every API request reads it: no query compiler
    if not found or not secrets.compare_digest(found[0][0].key_hash, _hash_key(key)):
        return None
    token = found[0][0]
    if token.member_id is not None and not token.member.active:  # acts as a member who left
        return None
    return token


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: Actor) -> None:
    actor.require(actor.administers)
    token.revoked_at = clock.now()
    token.save(update_fields=["revoked_at"])
    audit_record(actor=actor, action="token.revoke", obj=token)
