"""Check the framework values (account, region, bucket, role, network, KMS) before anything renders.

The render bakes these values into the definition, so a wrong one is reviewed, committed and
applied unless it is stopped here. A template of the original framework ships ``env.env`` full of
placeholders (``xxxxxxxxxxxx``, curly quotes, ``subnet-xxxxxxxx``): they are refused by name.
``123456789012`` is the account AWS documentation uses; it is accepted (the examples and the
template render with it), because it cannot reach a real account: AWS refuses to deploy there.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Callable, Mapping

from smpipe_gen.config.text import NON_PRINTABLE, shown_character
from smpipe_gen.errors import ConfigErrors, SmpipeError, closest

_PARTITION = r"arn:aws(?:-cn|-us-gov|-iso|-iso-[a-z])?"
# What template placeholders look like in any value (the one home of this rule; image URIs add
# their own walkthrough spellings in cloud_checks.py).
PLACEHOLDER = re.compile(r"[<>\u2018\u2019\u201c\u201d]|x{4,}|\bTODO\b|CHANGE_?ME|REPLACE_?ME|placeholder",
                         re.IGNORECASE)
_ACCOUNT = re.compile(r"\d{12}")
_ROLE = re.compile(_PARTITION + r":iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SUBNET = re.compile(r"subnet-[0-9a-f]+")
_SECURITY_GROUP = re.compile(r"sg-[0-9a-f]+")
_KMS = re.compile(_PARTITION + r":kms:[a-z0-9-]+:\d{12}:(?:key|alias)/[\w/+=,.@-]+"
                  r"|alias/[\w/-]+|(?:mrk-)?[0-9a-f]{8}-?(?:[0-9a-f]{4}-?){3}[0-9a-f]{12}|mrk-[0-9a-f]{32}")


@functools.lru_cache(maxsize=1)
def known_regions() -> tuple[str, ...]:
    """Every region botocore's bundled endpoint data lists for SageMaker (offline), all partitions."""
    import botocore.session

    session = botocore.session.get_session()
    return tuple(sorted(region for partition in session.get_available_partitions()
                        for region in session.get_available_regions("sagemaker", partition_name=partition)))


def _account(value: str) -> str | None:
    return None if _ACCOUNT.fullmatch(value) else "must be a 12-digit AWS account id"


def _region(value: str) -> str | None:
    if value in known_regions():
        return None
    close = closest(value, known_regions())
    return f"is not a known AWS region{f' (did you mean {close}?)' if close else ''}"


def _role(value: str) -> str | None:
    return None if _ROLE.fullmatch(value) else "must be an IAM role ARN: arn:aws:iam::<12-digit account>:role/<name>"


def _bucket(value: str) -> str | None:
    """S3's bucket naming rules (general purpose buckets)."""
    if not _BUCKET.fullmatch(value):
        return "must be an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
    if ".." in value or ".-" in value or "-." in value:
        return "is not a valid S3 bucket name (no two adjacent dots, no dot next to a hyphen)"
    if value.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or value.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3")):
        return "uses a prefix or suffix S3 reserves for other bucket types"
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return None
    return "must not be formatted as an IP address"


def _listed(pattern: re.Pattern, example: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        bad = [item.strip() for item in value.split(",") if item.strip() and not pattern.fullmatch(item.strip())]
        return f"has {bad[0]!r}, not a comma-separated list of ids like {example}" if bad else None
    return check


def _kms(value: str) -> str | None:
    return None if _KMS.fullmatch(value) else "must be a KMS key ARN, key id or alias (alias/name)"


CHECKS: dict[str, Callable[[str], str | None]] = {
    "SMP_ACCOUNTID": _account,
    "SMP_REGION": _region,
    "SMP_S3BUCKETNAME": _bucket,
    "SMP_ROLE": _role,
    "SMP_SUBNETS": _listed(_SUBNET, "subnet-0a1b2c3d"),
    "SMP_SECURITYGROUPS": _listed(_SECURITY_GROUP, "sg-0a1b2c3d"),
    "SMP_KMSKEY": _kms,
}


def problem(name: str, value: str) -> str | None:
    """Why ``value`` cannot be the value of variable ``name``, or None when it can. Whatever set
    it (a file, the process environment, --env), it obeys the character rules of config text: an
    escape sequence would reach the definition and the terminal ``plan`` prints it on."""
    unprintable = NON_PRINTABLE.search(value)
    if unprintable:
        return f"holds the invalid character {shown_character(unprintable.group())}"
    if PLACEHOLDER.search(value):
        return f"is a placeholder ({value!r}), not a real value"
    check = CHECKS.get(name)
    return check(value) if check and value else None


def _other_account(name: str, value: str, account: str) -> str | None:
    """The account of an ARN that is not SMP_ACCOUNTID: most likely one environment's value pasted
    into another's file (prod's render would run with dev's role), or dev's SMP_ACCOUNTID itself."""
    if name in ("SMP_ROLE", "SMP_KMSKEY") and value.startswith("arn:") and value.count(":") >= 5:
        owner = value.split(":")[4]
        if owner and owner != account:
            return owner
    return None


def validate(variables: Mapping[str, str], origins: Mapping[str, str]) -> None:
    """Refuse every bad value at once, one line each naming the variable and where it was set."""
    errors = []
    account = variables.get("SMP_ACCOUNTID", "")
    for name in sorted(variables):
        where = origins.get(name, "environment")
        why, hint = problem(name, variables[name]), f"set the real value of {name} in {where.split(':')[0]}"
        owner = None if why or problem("SMP_ACCOUNTID", account) else _other_account(name, variables[name], account)
        if owner:  # which of the two is wrong only the user knows: name both, and where each is set
            why = f"is in account {owner}, but SMP_ACCOUNTID is {account}"
            hint = (f"one of them comes from another environment: if this one is account {owner}, set SMP_ACCOUNTID "
                    f"in {origins.get('SMP_ACCOUNTID', 'its file')} to {owner}; else give {name} a value of "
                    f"account {account}")
        if why:
            errors.append(SmpipeError(f"{name} {why}", where=where, hint=hint))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ConfigErrors(errors)
