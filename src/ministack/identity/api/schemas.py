"""The identity API's request schemas (Keystone v3), checked before a handler runs.

Keystone keeps its resources open to extra attributes (`additionalProperties: true` on users,
projects, domains, ...), so these schemas type the attributes Keystone knows and let others
through; the places Keystone closes (password change, application credentials) are closed
here too. Names must hold a non-blank character and, beyond Keystone, no control or format
characters (a newline or U+202E in a project name misleads every list that shows it). The
simple collections (domains, projects, roles, ...) derive theirs from their declared fields in
`crud.Collection`.
"""

from __future__ import annotations

from ministack.common import params as p
from ministack.identity.passwords import MAX_PASSWORD_LENGTH

# Keystone's name: 1-255 with at least one non-blank character
name = {**p.loose_name, "pattern": "\\S"}
id_string = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-zA-Z0-9-_]+$"}
password = p.nullable({"type": "string", "maxLength": MAX_PASSWORD_LENGTH})

_user: p.Schema = {
    "name": name,
    "password": password,
    "enabled": p.strict_boolean,
    "domain_id": id_string,
    "default_project_id": p.nullable(id_string),
    "description": p.nullable({"type": "string", "maxLength": 65535}),
}
create_user = p.envelope("user", p.obj(_user, required=("name",), additional=True))
update_user = p.envelope("user", p.obj(_user, additional=True, minProperties=1))
change_password = p.envelope(
    "user",
    p.obj(
        {
            "password": {"type": "string", "minLength": 1, "maxLength": MAX_PASSWORD_LENGTH},
            "original_password": {"type": "string", "maxLength": MAX_PASSWORD_LENGTH},
        },
        required=("password", "original_password"),
    ),
)
_role_ref = p.obj({"id": id_string, "name": name, "domain_id": p.nullable(id_string)})
create_application_credential = p.envelope(
    "application_credential",
    p.obj(
        {
            "name": name,
            "description": p.nullable({"type": "string", "maxLength": 255}),
            "secret": p.nullable({"type": "string", "maxLength": MAX_PASSWORD_LENGTH}),
            "expires_at": p.nullable({"type": "string", "maxLength": 64}),
            "roles": p.array(_role_ref),
            "unrestricted": p.strict_boolean,
            "access_rules": p.array({"type": "object"}),
        },
        required=("name",),
    ),
)

_methods = p.array(p.enum("password", "token", "application_credential"), max_items=3)
_identity = p.obj(
    {
        "methods": {**_methods, "minItems": 1},
        "password": {"type": "object"},
        "token": p.obj({"id": {"type": "string", "maxLength": 8192}}, required=("id",)),
        "application_credential": {"type": "object"},
    },
    required=("methods",),
    additional=True,
)
issue_token = p.envelope(
    "auth",
    p.obj(
        {"identity": _identity, "scope": {"type": ["object", "string"]}},
        required=("identity",),
        additional=True,
    ),
    additional=True,
)
