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
# Keystone's access rule: an existing rule by id, or service, method and path together
_access_rule = p.obj(
    {
        "id": id_string,
        "service": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^\\S+$"},
        "method": p.enum("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"),
        "path": {"type": "string", "maxLength": 225, "pattern": "^/"},
    },
    oneOf=[{"required": ["id"]}, {"required": ["service", "method", "path"]}],
)
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
            "access_rules": p.array(_access_rule),
        },
        required=("name",),
    ),
)

_methods = p.array(p.enum("password", "token", "application_credential", "oauth1"), max_items=4)
_identity = p.obj(
    {
        "methods": {**_methods, "minItems": 1},
        "password": {"type": "object"},
        "token": p.obj({"id": {"type": "string", "maxLength": 8192}}, required=("id",)),
        "application_credential": {"type": "object"},
        "oauth1": {"type": "object"},
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

# -- credentials (/v3/credentials, OS-EC2, /v3/ec2tokens) ------------------------------------
MAX_BLOB = 65535
CREDENTIAL_FIELDS: p.Schema = {
    "blob": {"type": "string", "minLength": 1, "maxLength": MAX_BLOB},
    "type": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "\\S"},
    "user_id": id_string,
    "project_id": p.nullable(id_string),
}
create_credential = p.envelope(
    "credential", p.obj(CREDENTIAL_FIELDS, required=("blob", "type", "user_id"), additional=True)
)
update_credential = p.envelope(
    "credential", p.obj(CREDENTIAL_FIELDS, additional=True, minProperties=1)
)
list_credentials = p.query({"user_id": p.string(0, 64), "type": p.string(0, 255)})
create_ec2_credential = p.obj(
    {"tenant_id": id_string, "trust_id": p.nullable(id_string)},
    required=("tenant_id",),
    additional=True,
)
_signed = p.obj(
    {
        "access": {"type": "string", "minLength": 1, "maxLength": 255},
        "signature": {"type": "string", "maxLength": 1024},
        "host": {"type": "string", "maxLength": 1024},
        "verb": {"type": "string", "maxLength": 16},
        "path": {"type": "string", "maxLength": 8192},
        "params": {"type": "object"},
        "headers": {"type": "object"},
        "body_hash": p.nullable({"type": "string", "maxLength": 128}),
    },
    required=("access", "signature"),
    additional=True,
)
# Keystone reads `credentials`; older clients (keystonemiddleware's ec2 token) `ec2Credentials`
# Keystone's /v3/s3tokens: the string to sign (base64) an S3 API computed, and its signature
s3_token = {
    "type": "object",
    "properties": {
        "credentials": p.obj(
            {
                "access": {"type": "string", "minLength": 1, "maxLength": 255},
                "token": {"type": "string", "minLength": 1, "maxLength": 65536},
                "signature": {"type": "string", "minLength": 1, "maxLength": 1024},
            },
            required=("access", "token", "signature"),
            additional=True,
        )
    },
    "required": ["credentials"],
}

ec2_token = {
    "type": "object",
    "properties": {"credentials": _signed, "ec2Credentials": _signed},
    "anyOf": [{"required": ["credentials"]}, {"required": ["ec2Credentials"]}],
}

# -- trusts (OS-TRUST) -----------------------------------------------------------------------
create_trust = p.envelope(
    "trust",
    p.obj(
        {
            "trustor_user_id": id_string,
            "trustee_user_id": id_string,
            "impersonation": p.strict_boolean,
            "project_id": p.nullable(id_string),
            "roles": p.array(_role_ref),
            "expires_at": p.nullable({"type": "string", "maxLength": 64}),
            "remaining_uses": p.nullable(p.strict_integer(1)),
            "allow_redelegation": p.nullable(p.strict_boolean),
            "redelegation_count": p.nullable(p.strict_integer(0)),
        },
        required=("trustor_user_id", "trustee_user_id", "impersonation"),
        additional=True,
    ),
)
list_trusts = p.query({"trustor_user_id": p.string(0, 64), "trustee_user_id": p.string(0, 64)})

# -- endpoint groups (OS-EP-FILTER) ----------------------------------------------------------
_endpoint_filters = p.obj(
    {
        "interface": p.enum("public", "internal", "admin"),
        "service_id": id_string,
        "region_id": {"type": "string", "minLength": 1, "maxLength": 255},
    }
)
_endpoint_group: p.Schema = {
    "name": name,
    "description": p.nullable({"type": "string", "maxLength": 65535}),
    "filters": _endpoint_filters,
}
create_endpoint_group = p.envelope(
    "endpoint_group", p.obj(_endpoint_group, required=("name", "filters"))
)
# `openstack endpoint group set` sends "name": null when the name stays: accepted as unchanged
update_endpoint_group = p.envelope(
    "endpoint_group",
    p.obj(
        {**_endpoint_group, "name": p.nullable(name), "filters": p.nullable(_endpoint_filters)},
        minProperties=1,
    ),
)
list_endpoint_groups = p.query({"name": p.string(0, 255)})

# -- domain-specific configuration: group and option names are checked by domain_config.py
domain_config = p.envelope("config", {"type": "object"})
list_access_rules = p.query(
    {"service": p.string(0, 64), "method": p.string(0, 16), "path": p.string(0, 225)}
)

# --- OS-OAUTH1 ---------------------------------------------------------------------------------
_consumer_description = p.nullable({"type": "string", "maxLength": 65535})
create_consumer = p.envelope(
    "consumer", p.obj({"description": _consumer_description}, additional=True)
)
update_consumer = p.envelope(
    "consumer", p.obj({"description": _consumer_description}, additional=True)
)
_oauth_role = p.obj({"id": id_string, "name": name}, additional=False)
authorize_request_token = p.obj(
    {"roles": {"type": "array", "minItems": 1, "items": {**_oauth_role, "minProperties": 1}}},
    required=("roles",),
    additional=True,
)
