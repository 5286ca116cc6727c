"""The authorisation rules as data: role x action x the object's owners -> allow, deny or hide.

Pure: no database, no request. The web pages and the API ask `decide` with the principal, the action
of the route and the organisations that have a stake in the object (a submission: its vendor and the
lab that published it). A vendor or a lab asking about an object of another organisation is told it
does not exist (HIDE, answered 404), so that existence does not leak; a role that may never do an
action is told so (DENY, 403); nobody logged in is asked to log in (LOGIN, 401 or the login page).

Issue 13 adds the certification actions (review, waivers, certificates, listing, audit) as rows of RULES;
the public list and certificate verification are public routes (no action). Issue 15 adds the lab's
job queue (JOB_LIST, JOB_READ)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    ADMIN = "admin"  # runs the platform: organisations, users, keys; sees everything
    OFFICER = "officer"  # certification officer: sees everything, reviews
    LAB = "lab"  # publishes bundles signed by its organisation's keys; sees its own
    VENDOR = "vendor"  # sees its own organisation's products and submissions, nothing else


class Action(enum.StrEnum):
    ACCOUNT_READ = "account.read"
    LOGOUT = "session.logout"
    SUBMISSION_LIST = "submission.list"
    SUBMISSION_READ = "submission.read"
    SUBMISSION_DOWNLOAD = "submission.download"
    SUBMISSION_CREATE = "submission.create"
    PRODUCT_LIST = "product.list"
    PRODUCT_READ = "product.read"
    KEY_LIST = "key.list"
    ORG_LIST = "organisation.list"
    TOKEN_LIST = "token.list"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    NOTIFICATION_LOG = "notification.log"  # the delivery log of webhooks and e-mail
    # Certification (issue 13)
    SUBMISSION_REVIEW = "submission.review"
    WAIVER_LIST = "waiver.list"
    WAIVER_REQUEST = "waiver.request"
    WAIVER_DECIDE = "waiver.decide"
    WAIVER_EXPORT = "waiver.export"
    CERTIFICATE_LIST = "certificate.list"
    CERTIFICATE_ISSUE = "certificate.issue"
    CERTIFICATE_REVOKE = "certificate.revoke"
    CERTIFICATE_DERIVE = "certificate.derive"
    LISTING_SET = "listing.set"
    AUDIT_READ = "audit.read"
    # The lab's job queue (issue 15): jobs, and the devices they run on
    JOB_LIST = "job.list"
    JOB_READ = "job.read"


class Decision(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"  # 403: this role may never do this
    HIDE = "hide"  # 404: not yours; whether it exists is not said
    LOGIN = "login"  # 401: nobody is logged in


class Reach(enum.Enum):
    """How far a role's permission for an action reaches."""

    NONE = "none"  # never (DENY)
    OWN = "own"  # objects its organisation has a stake in (others: HIDE)
    SELF = "self"  # objects that are the principal's own (its tokens); others: HIDE
    ALL = "all"  # every object


@dataclass(frozen=True)
class Principal:
    """Who is asking: a logged-in user, or the holder of an API token (bound to an org and a role)."""

    role: Role
    org_id: int
    user_id: int | None = None
    token_id: int | None = None


@dataclass(frozen=True)
class Scope:
    """Who has a stake in an object. `orgs`: the organisations that own it or published it;
    `owner_user`/`owner_token`: for personal objects (API tokens), the user or token it belongs to."""

    orgs: frozenset[int] = frozenset()
    owner_user: int | None = None
    owner_token: int | None = None


ALL, OWN, SELF, NONE = Reach.ALL, Reach.OWN, Reach.SELF, Reach.NONE

# action: (admin, officer, lab, vendor)
RULES: dict[Action, tuple[Reach, Reach, Reach, Reach]] = {
    Action.ACCOUNT_READ: (ALL, ALL, ALL, ALL),
    Action.LOGOUT: (ALL, ALL, ALL, ALL),
    # Lists are open to every role and filtered to what the role may read (see visible_orgs).
    Action.SUBMISSION_LIST: (ALL, ALL, OWN, OWN),
    Action.SUBMISSION_READ: (ALL, ALL, OWN, OWN),
    Action.SUBMISSION_DOWNLOAD: (ALL, ALL, OWN, OWN),
    Action.SUBMISSION_CREATE: (NONE, NONE, OWN, NONE),
    Action.PRODUCT_LIST: (ALL, ALL, OWN, OWN),
    Action.PRODUCT_READ: (ALL, ALL, OWN, OWN),
    Action.KEY_LIST: (ALL, ALL, OWN, NONE),
    Action.ORG_LIST: (ALL, ALL, OWN, OWN),
    Action.TOKEN_LIST: (ALL, SELF, SELF, SELF),
    Action.TOKEN_CREATE: (SELF, SELF, SELF, SELF),
    Action.TOKEN_REVOKE: (ALL, SELF, SELF, SELF),
    Action.NOTIFICATION_LOG: (ALL, ALL, NONE, NONE),
    # Only officers review, decide waivers and certify; vendors ask for waivers and choose to be listed.
    Action.SUBMISSION_REVIEW: (NONE, ALL, NONE, NONE),
    Action.WAIVER_LIST: (ALL, ALL, NONE, OWN),
    Action.WAIVER_REQUEST: (NONE, NONE, NONE, OWN),
    Action.WAIVER_DECIDE: (NONE, ALL, NONE, NONE),
    Action.WAIVER_EXPORT: (ALL, ALL, NONE, OWN),
    Action.CERTIFICATE_LIST: (ALL, ALL, OWN, OWN),
    Action.CERTIFICATE_ISSUE: (NONE, ALL, NONE, NONE),
    Action.CERTIFICATE_REVOKE: (NONE, ALL, NONE, NONE),
    Action.CERTIFICATE_DERIVE: (NONE, ALL, NONE, NONE),
    Action.LISTING_SET: (ALL, NONE, NONE, OWN),
    Action.AUDIT_READ: (ALL, ALL, NONE, NONE),
    # The queue belongs to the test centre that runs it: its lab organisation (--jobs-org) sees it, as do
    # the platform's staff. Vendors see none: a queued job names a bench device, not a product
    # (services/jobs.py).
    Action.JOB_LIST: (ALL, ALL, OWN, NONE),
    Action.JOB_READ: (ALL, ALL, OWN, NONE),
}
_COLUMN = {Role.ADMIN: 0, Role.OFFICER: 1, Role.LAB: 2, Role.VENDOR: 3}


def reach(role: Role, action: Action) -> Reach:
    return RULES[action][_COLUMN[role]]


def decide(principal: Principal | None, action: Action, scope: Scope | None = None) -> Decision:
    """May `principal` do `action` on an object with `scope` (None: the action names no object)?"""
    if principal is None:
        return Decision.LOGIN
    how_far = reach(principal.role, action)
    if how_far is Reach.NONE:
        return Decision.DENY
    if scope is None or how_far is Reach.ALL:
        return Decision.ALLOW
    if how_far is Reach.OWN:
        return Decision.ALLOW if principal.org_id in scope.orgs else Decision.HIDE
    mine = (principal.user_id is not None and scope.owner_user == principal.user_id) or (
        principal.token_id is not None and scope.owner_token == principal.token_id
    )
    return Decision.ALLOW if mine else Decision.HIDE


def visible_orgs(principal: Principal, action: Action) -> frozenset[int] | None:
    """For a list: None means every object; otherwise only objects one of these orgs has a stake in."""
    how_far = reach(principal.role, action)
    if how_far is Reach.ALL:
        return None
    if how_far is Reach.NONE:
        return frozenset()
    return frozenset({principal.org_id})


# Which roles a user or token of each kind of organisation may hold.
ROLES_FOR_ORG_KIND: dict[str, frozenset[Role]] = {
    "platform": frozenset({Role.ADMIN, Role.OFFICER}),
    "lab": frozenset({Role.LAB}),
    "vendor": frozenset({Role.VENDOR, Role.LAB}),  # LAB: a vendor's own CI publishing its builds
}
