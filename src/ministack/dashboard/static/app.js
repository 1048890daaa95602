// The dashboard's own small script (served as a file: the CSP allows no inline script).
// Confirm before destructive forms or buttons (data-confirm), submit the project switcher on change, and upload an
// image file with a progress bar (the dashboard streams it on to the image service).
"use strict";

document.addEventListener("submit", function (event) {
  const form = event.target;
  const asker = event.submitter && event.submitter.hasAttribute("data-confirm")
    ? event.submitter : form;
  const question = asker.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  if (form.hasAttribute("data-upload")) {
    event.preventDefault();
    uploadImage(form);
  }
  if (form.hasAttribute("data-object-upload")) {
    event.preventDefault();
    uploadObject(form);
  }
  if (form.hasAttribute("data-keypair-create")) {
    event.preventDefault();
    createKeypair(form);
  }
});

function note(where, text, ok) {
  const p = document.createElement("p");
  p.className = ok ? "flash ok" : "flash error";
  p.textContent = text;
  where.replaceChildren(p);
}

// On the launch form: create a key pair, hand its private key to the browser as a download
// (the only copy), then refresh the form's key pair list (htmx listens for keypairs-changed).
async function createKeypair(form) {
  const status = document.getElementById("keypair-status");
  const resp = await fetch(form.action, {
    method: "POST",
    body: new URLSearchParams(new FormData(form)),
    headers: { "Accept": "application/json, application/x-pem-file" },
    credentials: "same-origin",
  });
  const disposition = resp.headers.get("Content-Disposition") || "";
  if (!resp.ok || !disposition.startsWith("attachment")) {
    let message = resp.statusText;
    try { message = (await resp.json()).error || message; } catch (e) { /* not JSON */ }
    note(status, "The key pair could not be created: " + message, false);
    return;
  }
  const name = (disposition.match(/filename="([^"]+)"/) || [null, "key.pem"])[1];
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await resp.blob());
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  note(status, "Key pair created; its private key was downloaded as " + name + ".", true);
  document.body.dispatchEvent(new Event("keypairs-changed"));
  form.reset();
}

document.addEventListener("change", function (event) {
  const el = event.target;
  if (el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) {
    el.form.requestSubmit();
  }
});

function say(form, text, isError) {
  const status = form.querySelector("#upload-status");
  status.textContent = text;
  status.className = isError ? "flash error" : "";
}

async function uploadImage(form) {
  const fileInput = form.querySelector("input[type=file]");
  const file = fileInput.files[0];
  if (!file) {
    say(form, "Choose a file to upload.", true);
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const fields = new FormData(form);
  fields.delete(fileInput.name);
  const csrf = fields.get("csrf_token");
  let created;
  try {
    const resp = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(fields),
      headers: { "Accept": "application/json" },
      credentials: "same-origin",
    });
    created = await resp.json();
    if (!resp.ok) {
      throw new Error(created.error || resp.statusText);
    }
  } catch (err) {
    say(form, "The image could not be created: " + err.message, true);
    button.disabled = false;
    return;
  }
  const progress = form.querySelector("#upload-progress");
  progress.hidden = false;
  const xhr = new XMLHttpRequest();
  xhr.open("PUT", created.upload_url);
  xhr.setRequestHeader("Content-Type", "application/octet-stream");
  xhr.setRequestHeader("X-CSRF-Token", csrf);
  xhr.upload.addEventListener("progress", function (e) {
    if (e.lengthComputable) {
      progress.value = Math.round((100 * e.loaded) / e.total);
      progress.setAttribute("data-loaded", String(e.loaded));
      say(form, "Uploading: " + progress.value + "%", false);
    }
  });
  xhr.addEventListener("load", function () {
    if (xhr.status >= 200 && xhr.status < 300) {
      progress.value = 100;
      say(form, "Uploaded.", false);
      window.location.assign("/project/images");
    } else {
      let message = xhr.statusText;
      try { message = JSON.parse(xhr.responseText).error || message; } catch (e) { /* text */ }
      say(form, "The upload failed: " + message, true);
      button.disabled = false;
    }
  });
  xhr.addEventListener("error", function () {
    say(form, "The upload failed: the connection was lost.", true);
    button.disabled = false;
  });
  xhr.send(file);
}

// Object storage: PUT the chosen file as the request body (the dashboard streams it on to the
// object store), named by the folder prefix and the file's name, with a progress bar.
function uploadObject(form) {
  const file = form.querySelector("input[type=file]").files[0];
  if (!file) {
    say(form, "Choose a file to upload.", true);
    return;
  }
  let prefix = form.querySelector("input[name=prefix]").value.trim();
  if (prefix && !prefix.endsWith("/")) { prefix += "/"; }
  const name = prefix + file.name;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const progress = form.querySelector("#upload-progress");
  progress.hidden = false;
  const xhr = new XMLHttpRequest();
  xhr.open("PUT", form.getAttribute("action") + "?name=" + encodeURIComponent(name));
  xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
  xhr.setRequestHeader("X-CSRF-Token", form.querySelector("input[name=csrf_token]").value);
  xhr.upload.addEventListener("progress", function (e) {
    if (e.lengthComputable) {
      progress.value = Math.round((100 * e.loaded) / e.total);
      say(form, "Uploading: " + progress.value + "%", false);
    }
  });
  xhr.addEventListener("load", function () {
    if (xhr.status >= 200 && xhr.status < 300) {
      const here = form.getAttribute("action").replace(/\/upload$/, "");
      window.location.assign(prefix ? here + "?prefix=" + encodeURIComponent(prefix) : here);
    } else {
      let message = xhr.statusText;
      try { message = JSON.parse(xhr.responseText).error || message; } catch (e) { /* text */ }
      say(form, "The upload failed: " + message, true);
      button.disabled = false;
    }
  });
  xhr.addEventListener("error", function () {
    say(form, "The upload failed: the connection was lost.", true);
    button.disabled = false;
  });
  xhr.send(file);
}
