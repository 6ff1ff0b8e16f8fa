/*
 * Frontdesk web resource for Dynamics 365 forms (Lead, Contact, Account, Opportunity, Case, Work Order).
 *
 * 1. Gets the form's Client API context: the documented way is the form's OnLoad handler calling
 *    setClientApiContext(Xrm, formContext) on this page (formContext.getControl(...).getContentWindow());
 *    without that handler it falls back to parent.Xrm.Page, which Dynamics still provides to web resources.
 * 2. Reads the record (table, id, owner) and the customer's name, phone, e-mail and address from the form.
 * 3. Opens the Frontdesk widget (served by the function app named in the Custom Parameter `url=`) in a
 *    frame and hands it that context by postMessage, to the widget's origin only. The widget books
 *    through POST /api/bookings with channel "dynamics", so routing can use the owner and territory and
 *    the Dynamics appointment is "regarding" this record.
 * 4. When the widget says it booked, refreshes the form's timeline (control.refresh() on the timelinewall
 *    control) and shows a form notification. The appointment is written by Frontdesk's notification step,
 *    which can trail the booking by a moment, so the timeline is refreshed once more a few seconds later.
 */
(function () {
  'use strict';

  var SECOND_REFRESH_MS = 4000;
  var CONTEXT_WAIT_MS = 15000;   // how long to wait for the form to hand over its context
  var NOTIFICATION_ID = 'frontdesk-booking';
  // Which form columns hold the customer's details, per table. Lookups give a name when the table has no
  // name of its own (an opportunity's or case's customer).
  var RECORDS = {
    lead: { name: ['fullname', 'companyname'], phone: ['mobilephone', 'telephone1'], email: ['emailaddress1'],
            street: ['address1_line1'], city: ['address1_city'], state: ['address1_stateorprovince'],
            postal: ['address1_postalcode'] },
    contact: { name: ['fullname'], phone: ['mobilephone', 'telephone1'], email: ['emailaddress1'],
               street: ['address1_line1'], city: ['address1_city'], state: ['address1_stateorprovince'],
               postal: ['address1_postalcode'] },
    account: { name: ['name'], phone: ['telephone1'], email: ['emailaddress1'], street: ['address1_line1'],
               city: ['address1_city'], state: ['address1_stateorprovince'], postal: ['address1_postalcode'] },
    opportunity: { name: ['parentcontactid', 'customerid', 'parentaccountid'], phone: [], email: [],
                   street: [], city: [], state: [], postal: [] },
    incident: { name: ['primarycontactid', 'customerid'], phone: [], email: ['emailaddress'],
                street: [], city: [], state: [], postal: [] },
    msdyn_workorder: { name: ['msdyn_reportedbycontact', 'msdyn_serviceaccount'], phone: [], email: [],
                       street: ['msdyn_address1'], city: ['msdyn_city'], state: ['msdyn_stateorprovince'],
                       postal: ['msdyn_postalcode'] }
  };
  var LABELS = { lead: 'lead', contact: 'contact', account: 'account', opportunity: 'opportunity',
                 incident: 'case', msdyn_workorder: 'work order' };

  var $ = function (id) { return document.getElementById(id); };
  var started = false;
  var widget = null;   // {frame, origin, payload}

  function settings() {
    var query = new URLSearchParams(location.search);
    var data = new URLSearchParams(query.get('data') || '');
    return {
      url: data.get('url') || '',
      eventType: data.get('eventType') || '',
      key: data.get('key') || '',
      height: parseInt(data.get('height'), 10) || 0,
      // "Pass record object-type code and unique identifier as parameters" adds these.
      id: query.get('id') || '',
      typename: query.get('typename') || ''
    };
  }

  function status(text) { $('fdx-status').textContent = text; }

  function problem(text) {
    $('fdx-problem').textContent = text;
    $('fdx-problem').hidden = false;
    status('');
  }

  // ------------------------------------------------------------------ the form's context

  function clientApi() {
    if (window._formContext) return { xrm: window.Xrm, form: window._formContext };
    try {
      var xrm = window.parent && window.parent !== window ? window.parent.Xrm : null;
      if (xrm && xrm.Page && xrm.Page.data && xrm.Page.data.entity) return { xrm: xrm, form: xrm.Page };
    } catch (e) {
      // A parent on another origin (not a Dynamics form): no context.
    }
    return null;
  }

  function attribute(form, name) {
    var attr = form.getAttribute ? form.getAttribute(name) : null;
    return attr ? attr.getValue() : null;
  }

  function first(form, names) {
    for (var i = 0; i < names.length; i += 1) {
      var value = attribute(form, names[i]);
      if (Array.isArray(value)) value = value.length ? value[0].name : null;  // a lookup: its name
      if (typeof value === 'string' && value.trim()) return value.trim();
    }
    return null;
  }

  function guid(text) {
    return (text || '').replace(/[{}]/g, '').toLowerCase();
  }

  function readRecord(api, config) {
    var form = api.form;
    var entity = form.data.entity;
    var table = entity.getEntityName ? entity.getEntityName() : config.typename;
    var id = guid(entity.getId ? entity.getId() : config.id);
    var fields = RECORDS[table];
    var owner = attribute(form, 'ownerid');
    var byUser = Array.isArray(owner) && owner.length && owner[0].entityType === 'systemuser';
    var ownerId = byUser ? guid(owner[0].id) : null;   // a team owner says nothing about who takes the job
    var user = null;
    try {
      user = guid(api.xrm.Utility.getGlobalContext().userSettings.userId);
    } catch (e) {
      user = null;
    }
    if (!fields) return { table: table, supported: false };
    var street = first(form, fields.street);
    var place = [first(form, fields.city), first(form, fields.state)].filter(Boolean).join(', ');
    return {
      table: table,
      supported: true,
      id: id,
      saved: !!id && !(form.ui && form.ui.getFormType && form.ui.getFormType() === 1),
      ownerId: ownerId,
      initiatedBy: user ? 'systemuser:' + user : null,
      customer: {
        name: first(form, fields.name),
        phone: first(form, fields.phone),
        email: first(form, fields.email),
        address: [street, place].filter(Boolean).join(', ') || null,
        postalCode: first(form, fields.postal)
      }
    };
  }

  // ------------------------------------------------------------------ the widget in a frame

  function widgetUrl(config) {
    var base;
    try {
      base = new URL(config.url);
    } catch (e) {
      return null;
    }
    if (base.protocol !== 'https:' && base.hostname !== 'localhost' && base.hostname !== '127.0.0.1') return null;
    var url = new URL(base.pathname.replace(/\/$/, '') + '/api/widget', base.origin);
    if (config.eventType) url.searchParams.set('eventType', config.eventType);
    url.searchParams.set('utm_source', 'dynamics365');
    return url;
  }

  function openWidget(api, config, record) {
    var url = widgetUrl(config);
    if (!url) {
      problem('Frontdesk is not configured on this form: set the web resource\'s custom parameter to ' +
        'url=https://<your Frontdesk function app>. Ask your administrator.');
      return;
    }
    var frame = document.createElement('iframe');
    frame.title = 'Frontdesk booking widget';
    frame.src = url.href;
    if (config.height) frame.style.height = config.height + 'px';
    $('fdx-frame').appendChild(frame);
    widget = {
      frame: frame,
      origin: url.origin,
      api: api,
      payload: {
        type: 'frontdesk:context',
        label: (record.customer.name || 'this ' + LABELS[record.table]),
        eventType: config.eventType || null,
        functionKey: config.key || null,
        context: {
          channel: 'dynamics',
          dynamicsRecordType: record.table,
          dynamicsRecordId: record.id,
          ownerId: record.ownerId,
          initiatedBy: record.initiatedBy
        },
        customer: record.customer
      }
    };
    status('Loading the booking widget…');
  }

  function onMessage(event) {
    if (!widget || event.origin !== widget.origin || event.source !== widget.frame.contentWindow) return;
    var data = event.data || {};
    if (data.type === 'frontdesk:ready') {
      widget.frame.contentWindow.postMessage(widget.payload, widget.origin);
      status('Pick a service and a time; the customer\'s details are filled in from this record.');
    } else if (data.type === 'frontdesk:resize' && data.height > 0) {
      widget.frame.style.height = Math.min(Math.ceil(data.height), 5000) + 'px';
    } else if (data.type === 'frontdesk:booked') {
      booked(data);
    }
  }

  function booked(data) {
    var form = widget.api.form;
    var when = new Date(data.start);
    var text = 'Frontdesk booked an appointment for ' + when.toLocaleString() + ' (reference ' + data.bookingId + ').';
    try {
      form.ui.setFormNotification(text, 'INFO', NOTIFICATION_ID);
    } catch (e) {
      // Notifications are a courtesy; the booking stands without one.
    }
    var refreshed = refreshTimeline(form);
    status(refreshed ? text + ' The timeline is being refreshed.' : text);
    setTimeout(function () { refreshTimeline(form); }, SECOND_REFRESH_MS);
  }

  function refreshTimeline(form) {
    var done = false;
    try {
      form.ui.controls.forEach(function (control) {
        if (control.getControlType && control.getControlType() === 'timelinewall' && control.refresh) {
          control.refresh();
          done = true;
        }
      });
      if (!done) {
        var named = form.getControl('Timeline') || form.getControl('notescontrol');
        if (named && named.refresh) {
          named.refresh();
          done = true;
        }
      }
    } catch (e) {
      done = false;
    }
    return done;
  }

  // ------------------------------------------------------------------ start

  function start() {
    if (started) return;
    var api = clientApi();
    if (!api) return;
    started = true;
    var config = settings();
    var record = readRecord(api, config);
    if (!record.supported) {
      problem('Frontdesk books from Lead, Contact, Account, Opportunity, Case and Work Order forms, not ' +
        (record.table || 'this form') + '.');
      return;
    }
    if (!record.saved) {
      problem('Save this ' + LABELS[record.table] + ' first, then book its appointment here.');
      return;
    }
    $('fdx-record').textContent = 'For ' + (record.customer.name || 'this ' + LABELS[record.table]) +
      ' (' + LABELS[record.table] + ')';
    openWidget(api, config, record);
  }

  // The documented hand-over: the form's OnLoad handler calls this through getContentWindow().
  window.setClientApiContext = function (xrm, formContext) {
    window.Xrm = xrm;
    window._formContext = formContext;
    start();
  };

  // Without a hand-over, look for parent.Xrm for a while (the form may still be loading), then explain.
  function waitForForm() {
    var deadline = Date.now() + CONTEXT_WAIT_MS;
    (function poll() {
      start();
      if (started) return;
      if (Date.now() < deadline) setTimeout(poll, 200);
      else problem('Frontdesk could not read this form. Add it to a Lead, Contact, Account, Opportunity, Case ' +
        'or Work Order form (docs/DYNAMICS.md).');
    }());
  }

  window.addEventListener('message', onMessage);
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', waitForForm);
  else waitForForm();
}());
