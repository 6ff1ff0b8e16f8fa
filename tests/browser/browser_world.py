"""The world outside the function app, for browser tests: a customer's web site and a Dynamics 365 form.

``OutsideWorld`` serves, from one aiohttp app on two loopback ports reached as ``http://localhost:<port>``
(so each is a different origin from the function app at ``http://127.0.0.1:<port>``):

- the *site* origin: ``/embed.html`` (the one-``<script>``-tag embed) and ``/iframe.html`` (a plain iframe);
- the *CRM* origin: ``/main.aspx?form=<token>``, a model-driven form page that provides ``Xrm`` and a
  ``formContext`` the way Dynamics does (attributes with ``getValue()``, lookups as ``[{id, name,
  entityType}]``, ids in braces and upper case, ``ui.controls``, a ``timelinewall`` control whose
  ``refresh()`` re-reads the record's appointments from the Dataverse emulator, ``setFormNotification``,
  ``getContentWindow()``), and the web resource itself under ``/WebResources/fd_/booking/`` straight from
  ``web/dynamics/``.

The form's behaviour is recorded in ``window.__calls`` (timeline refreshes, notifications) for tests.
"""

from __future__ import annotations

import html
import json
import secrets
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
WEB_RESOURCES = ROOT / "web" / "dynamics"

SITE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lakeshore Plumbing &amp; Heating</title></head>
<body style="font-family: system-ui, sans-serif; margin: 0; background: #f4f1ea">
<header style="background:#123; color:#fff; padding:1rem"><p style="margin:0;font-size:1.3rem">Lakeshore Plumbing &amp; Heating</p></header>
<main style="padding:1rem">
<h1>Book a visit online</h1>
%(embed)s
<p id="booked" role="status"></p>
</main>
<script>
document.addEventListener('frontdesk:booked', function (event) {
  document.getElementById('booked').textContent = 'Booked ' + event.detail.bookingId;
});
</script>
</body></html>
"""

FORM_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>%(title)s - Dynamics 365</title>
<style>
 body { margin:0; font: 14px/1.4 "Segoe UI", system-ui, sans-serif; background:#faf9f8; color:#201f1e; }
 .bar { background:#002050; color:#fff; padding:.6rem 1rem; font-weight:600; }
 .cols { display:grid; grid-template-columns: minmax(14rem, 1fr) minmax(22rem, 1.4fr) minmax(14rem, 1fr); gap:1rem; padding:1rem; }
 section { background:#fff; border:1px solid #e1dfdd; border-radius:4px; padding:.75rem; }
 h1 { font-size:1.2rem; margin:.5rem 1rem 0; } h2 { font-size:1rem; margin:0 0 .5rem; }
 dl { display:grid; grid-template-columns:max-content 1fr; gap:.3rem .75rem; margin:0; } dt { color:#605e5c; }
 dd { margin:0; overflow-wrap:anywhere; }
 iframe { width:100%%; border:0; height:640px; display:block; }
 #timeline li { border-left:3px solid #0078d4; padding:.25rem .5rem; margin-bottom:.5rem; list-style:none; }
 #timeline { padding:0; margin:0; }
</style></head>
<body>
<div class="bar">Dynamics 365 | Sales Hub</div>
<h1>%(title)s</h1>
<div class="cols">
 <section aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2><dl id="fields"></dl></section>
 <section aria-labelledby="frontdesk-h"><h2 id="frontdesk-h">Frontdesk</h2>
  <iframe id="WebResource_frontdesk" title="Frontdesk booking" src="%(resource)s"></iframe></section>
 <section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2><ul id="timeline"></ul>
  <p id="timeline-empty">Nothing here yet.</p></section>
</div>
<script type="application/json" id="form">%(form)s</script>
<script>
(function () {
  var spec = JSON.parse(document.getElementById('form').textContent);
  window.__calls = { refresh: 0, notifications: [], handover: 0 };
  function braces(id) { return '{' + id.toUpperCase() + '}'; }
  function attributeValue(value) {
    if (value && typeof value === 'object' && value.lookup) {
      return [{ id: braces(value.id), name: value.name, entityType: value.lookup }];
    }
    return value;
  }
  var attributes = {};
  Object.keys(spec.attributes).forEach(function (name) {
    attributes[name] = { getName: function () { return name; },
                         getValue: function () { return attributeValue(spec.attributes[name]); } };
  });
  var frame = document.getElementById('WebResource_frontdesk');
  function control(name, type, extra) {
    var c = { getName: function () { return name; }, getControlType: function () { return type; } };
    Object.keys(extra || {}).forEach(function (key) { c[key] = extra[key]; });
    return c;
  }
  function renderTimeline() {
    return fetch('/timeline?record=' + encodeURIComponent(spec.id)).then(function (r) { return r.json(); })
      .then(function (items) {
        var list = document.getElementById('timeline');
        list.textContent = '';
        items.forEach(function (item) {
          var li = document.createElement('li');
          li.textContent = 'Appointment: ' + item.subject + ' - ' + item.scheduledstart;
          list.appendChild(li);
        });
        document.getElementById('timeline-empty').hidden = items.length > 0;
      });
  }
  var controls = [
    control('Timeline', 'timelinewall', { refresh: function () { window.__calls.refresh += 1; renderTimeline(); } }),
    control('WebResource_frontdesk', 'webresource', { getContentWindow: function () {
      return new Promise(function (resolve) {
        var doc = frame.contentDocument;  // the web resource's own document, not the initial about:blank
        if (doc && doc.URL.indexOf('/WebResources/') >= 0 && doc.readyState === 'complete') resolve(frame.contentWindow);
        else frame.addEventListener('load', function () { resolve(frame.contentWindow); });
      });
    } })
  ];
  Object.keys(spec.attributes).forEach(function (name) { controls.push(control(name, 'standard')); });
  var formContext = {
    data: { entity: {
      getEntityName: function () { return spec.table; },
      getId: function () { return spec.id ? braces(spec.id) : ''; }
    } },
    getAttribute: function (name) { return attributes[name] || null; },
    getControl: function (name) { return controls.filter(function (c) { return c.getName() === name; })[0] || null; },
    ui: {
      getFormType: function () { return spec.formType; },
      controls: { forEach: function (fn) { controls.forEach(fn); }, get: function () { return controls; } },
      setFormNotification: function (message, level, id) {
        window.__calls.notifications.push({ message: message, level: level, id: id });
        return true;
      }
    }
  };
  var Xrm = { Utility: { getGlobalContext: function () {
    return { userSettings: { userId: braces(spec.userId), userName: 'Office Manager' } };
  } } };
  if (!spec.handover) Xrm.Page = formContext;
  window.Xrm = Xrm;
  var fields = document.getElementById('fields');
  Object.keys(spec.attributes).forEach(function (name) {
    var value = spec.attributes[name];
    var dt = document.createElement('dt'); dt.textContent = name;
    var dd = document.createElement('dd'); dd.textContent = value && value.lookup ? value.name : String(value);
    fields.appendChild(dt); fields.appendChild(dd);
  });
  renderTimeline();
  if (spec.handover) {
    // What the form's OnLoad handler (web/dynamics/form_onload.js) does.
    formContext.getControl('WebResource_frontdesk').getContentWindow().then(function (w) {
      window.__calls.handover += 1;
      w.setClientApiContext(Xrm, formContext);
    });
  }
}());
</script>
</body></html>
"""


@dataclass
class OutsideWorld:
    """The customer's site and the Dynamics form, served on two ``localhost`` ports."""

    widget_base: str = ""                # http://127.0.0.1:<port> (the function app), set once it runs
    dataverse_records: object = None     # callable(entity_set) -> rows (the Dataverse emulator's)
    forms: dict = field(default_factory=dict)
    _servers: list = field(default_factory=list)

    def __post_init__(self) -> None:
        from dev.ports import listening_socket
        self._sockets = {"site": listening_socket("127.0.0.1"), "crm": listening_socket("127.0.0.1")}
        self.site_port = self._sockets["site"].getsockname()[1]
        self.crm_port = self._sockets["crm"].getsockname()[1]

    @property
    def site_origin(self) -> str:
        return f"http://localhost:{self.site_port}"

    @property
    def crm_origin(self) -> str:
        return f"http://localhost:{self.crm_port}"

    def start(self) -> "OutsideWorld":
        from dev.serving import BackgroundServer
        for name, sock in self._sockets.items():
            self._servers.append(BackgroundServer(self.make_app, sock=sock, name=f"outside-{name}").start())
        return self

    def stop(self) -> None:
        while self._servers:
            self._servers.pop().stop()

    # ------------------------------------------------------------ pages

    def embed_url(self, event_type: str | None = None, query: str = "") -> str:
        return f"{self.site_origin}/embed.html?{urllib.parse.urlencode({'eventType': event_type or ''})}{query}"

    def iframe_url(self) -> str:
        return f"{self.site_origin}/iframe.html"

    def form_url(self, table: str, record_id: str, attributes: dict, *, data: str, user_id: str,
                 form_type: int = 2, handover: bool = False, title: str = "Contact") -> str:
        """A form page for one record; ``data`` is the web resource's Custom Parameter (data)."""
        token = secrets.token_hex(6)
        self.forms[token] = {"table": table, "id": record_id, "attributes": attributes, "data": data,
                             "userId": user_id, "formType": form_type, "handover": handover, "title": title}
        return f"{self.crm_origin}/main.aspx?form={token}"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/embed.html", self._embed)
        app.router.add_get("/iframe.html", self._iframe)
        app.router.add_get("/main.aspx", self._form)
        app.router.add_get("/timeline", self._timeline)
        app.router.add_get("/WebResources/fd_/booking/{name}", self._web_resource)
        return app

    async def _embed(self, request: web.Request) -> web.Response:
        event_type = request.query.get("eventType", "")
        attribute = f' data-event-type="{html.escape(event_type)}"' if event_type else ""
        tag = f'<script src="{self.widget_base}/api/widget/embed.js"{attribute} async></script>'
        return web.Response(text=SITE_PAGE % {"embed": tag}, content_type="text/html")

    async def _iframe(self, request: web.Request) -> web.Response:
        tag = (f'<iframe src="{self.widget_base}/api/widget" title="Book an appointment" '
               f'style="width:100%;max-width:40rem;height:900px;border:0"></iframe>')
        return web.Response(text=SITE_PAGE % {"embed": tag}, content_type="text/html")

    async def _form(self, request: web.Request) -> web.Response:
        spec = self.forms.get(request.query.get("form", ""))
        if spec is None:
            raise web.HTTPNotFound()
        query = {"data": spec["data"]}
        resource = "/WebResources/fd_/booking/booking.html?" + urllib.parse.urlencode(query)
        page = FORM_PAGE % {"title": html.escape(spec["title"]), "resource": html.escape(resource),
                            "form": json.dumps(spec).replace("<", "\\u003c")}
        return web.Response(text=page, content_type="text/html")

    async def _timeline(self, request: web.Request) -> web.Response:
        record = request.query.get("record", "").lower()
        rows = [row for row in (self.dataverse_records("appointments") if self.dataverse_records else [])
                if str(row.get("_regardingobjectid_value", "")).lower() == record]
        return web.json_response([{"subject": row.get("subject"), "scheduledstart": row.get("scheduledstart")}
                                  for row in rows])

    async def _web_resource(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = WEB_RESOURCES / name
        if name not in {"booking.html", "booking.js"} or not path.is_file():
            raise web.HTTPNotFound()
        content_type = "text/html" if name.endswith(".html") else "text/javascript"
        return web.Response(body=path.read_bytes(), content_type=content_type)
