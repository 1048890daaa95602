"""Key pairs: list, create (the private key is downloaded once and kept nowhere), import, delete."""

from __future__ import annotations

import re

from starlette.responses import Response

from ministack.dashboard.web import Page, field, page

SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


async def list_keypairs(p: Page) -> Response:
    body = await p.get("compute", "/os-keypairs")
    return p.render("keypairs.html", keypairs=[k["keypair"] for k in body.get("keypairs", [])])


async def create_keypair(p: Page) -> Response:
    """Create a key pair and answer its private key as a file download, the only copy."""
    name = field(await p.form(), "name")
    body = await p.call("compute", "POST", "/os-keypairs", json={"keypair": {"name": name}})
    private = str(body["keypair"].get("private_key", ""))
    filename = (SAFE_FILENAME.sub("_", name) or "key") + ".pem"
    p.session.say("ok", f"Key pair {name} created; its private key was downloaded as {filename}.")
    return Response(
        private,
        media_type="application/x-pem-file",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


async def import_keypair(p: Page) -> Response:
    form = await p.form()
    keypair = {"name": field(form, "name"), "public_key": field(form, "public_key")}
    await p.call("compute", "POST", "/os-keypairs", json={"keypair": keypair})
    done = f"Key pair {keypair['name']} imported."
    if p.request.headers.get("HX-Request"):  # from the launch form: refresh its key list
        return p.render("message.html", text=done, headers={"HX-Trigger": "keypairs-changed"})
    return p.redirect("/project/key_pairs", ok=done)


async def keypair_options(p: Page) -> Response:
    """The launch form's key pair choices, refreshed after a key pair is made there."""
    body = await p.get("compute", "/os-keypairs")
    names = [k["keypair"]["name"] for k in body.get("keypairs", [])]
    return p.render(
        "keypair_options.html", names=names, chosen=p.request.query_params.get("chosen", "")
    )


async def delete_keypair(p: Page) -> Response:
    name = p.request.path_params["name"]
    await p.call("compute", "DELETE", f"/os-keypairs/{name}")
    return p.redirect("/project/key_pairs", ok=f"Key pair {name} deleted.")


ROUTES = [
    page("/project/key_pairs", list_keypairs),
    page("/project/key_pairs/options", keypair_options),
    page("/project/key_pairs/create", create_keypair, ["POST"]),
    page("/project/key_pairs/import", import_keypair, ["POST"]),
    page("/project/key_pairs/{name}/delete", delete_keypair, ["POST"]),
]
