/*
 * Frontdesk manage page: the customer reschedules or cancels the booking their link names.
 *
 * The server renders the booking (or why the link does not work); this script adds the two actions.
 * It talks only to the routes under its own URL (/api/manage/<token>/...): availability, reschedule and
 * cancel. A double click cannot act twice: buttons are disabled while a request runs, and the server
 * joins a repeated request to the saga the first one started. A 202 (still working) is asked again.
 * Times are shown on the business's clock (where the visit happens), with the zone's abbreviation.
 */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var config = JSON.parse($('fd-config').textContent || '{}');
  if (config.state !== 'ok' || !config.booking) return;

  var state = {
    base: location.pathname.replace(/\/+$/, ''),
    booking: config.booking,
    zone: config.booking.timeZone,
    windowStart: null,
    slots: [],
    day: null,
    chosen: null,
    busy: false
  };
  var WINDOW_DAYS = 7;
  var locale = navigator.language || 'en-US';

  // ------------------------------------------------------------------ talking to the server

  function ApiError(status, code, message) {
    this.status = status;
    this.code = code || 'error';
    this.message = message || 'Something went wrong. Please try again.';
  }

  function api(path, options) {
    var init = Object.assign({ credentials: 'omit', cache: 'no-store' }, options || {});
    return fetch(state.base + path, init).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (response.ok) return { status: response.status, body: body };
        var error = (body && body.error) || {};
        throw new ApiError(response.status, error.code, error.message);
      });
    }, function () {
      throw new ApiError(0, 'network', 'We could not reach the server. Check your connection and try again.');
    });
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  /* POST, and while the server answers 202 (the change is still being made) ask again: it joins the same change. */
  function post(path, body, attempt) {
    attempt = attempt || 0;
    return api(path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body || {})
    }).then(function (result) {
      if (result.status !== 202 || attempt >= 30) return result;
      return sleep(1000).then(function () { return post(path, body, attempt + 1); });
    });
  }

  // ------------------------------------------------------------------ announcing

  function status(text) { $('fd-status').textContent = text || ''; }

  function showAlert(text) {
    $('fd-alert-text').textContent = text;
    $('fd-alert').hidden = false;
  }

  function hideAlert() { $('fd-alert').hidden = true; }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function setBusy(busy) {
    state.busy = busy;
    Array.prototype.forEach.call(document.querySelectorAll('main button'), function (button) {
      button.disabled = busy;
    });
  }

  /* A link that stopped working while the page was open: say so and offer nothing more. */
  function linkGone(error) {
    if (error.status !== 404 && error.status !== 410) return false;
    ['fd-actions', 'fd-step-time', 'fd-step-cancel', 'fd-booking'].forEach(function (id) { $(id).hidden = true; });
    showAlert(error.message + ' ' + callUs());
    return true;
  }

  function callUs() {
    var phone = state.booking.business && state.booking.business.phone;
    return phone ? 'Call us at ' + phone + '.' : 'Please call us.';
  }

  function fail(error) {
    setBusy(false);
    if (!linkGone(error)) showAlert(error.message);
    status('');
  }

  // ------------------------------------------------------------------ time formatting (the business's clock)

  function formatter(options) {
    return new Intl.DateTimeFormat(locale, Object.assign({ timeZone: state.zone }, options));
  }

  function dayKey(date) {
    return new Intl.DateTimeFormat('en-CA', {
      timeZone: state.zone, year: 'numeric', month: '2-digit', day: '2-digit'
    }).format(date);
  }

  function addDays(key, count) {
    var date = new Date(key + 'T12:00:00Z');
    date.setUTCDate(date.getUTCDate() + count);
    return date.toISOString().slice(0, 10);
  }

  function dayLabel(date) { return formatter({ weekday: 'short', month: 'short', day: 'numeric' }).format(date); }
  function longDay(date) { return formatter({ weekday: 'long', month: 'long', day: 'numeric' }).format(date); }
  function timeLabel(date) { return formatter({ hour: 'numeric', minute: '2-digit' }).format(date); }

  function zoneLabel(date) {
    var part = formatter({ timeZoneName: 'short' }).formatToParts(date)
      .filter(function (p) { return p.type === 'timeZoneName'; })[0];
    return part ? part.value : state.zone;
  }

  function rangeLabel(key) {
    return formatter({ month: 'short', day: 'numeric' }).format(new Date(key + 'T12:00:00Z'));
  }

  // ------------------------------------------------------------------ reschedule

  function openTimes() {
    hideAlert();
    $('fd-step-cancel').hidden = true;
    $('fd-step-time').hidden = false;
    $('fd-tz-note').textContent = 'Times are shown on our clock (' + zoneLabel(new Date()) + ').';
    $('fd-h-time').focus();
    state.windowStart = state.windowStart || dayKey(new Date());
    loadTimes();
  }

  function loadTimes() {
    setBusy(true);
    status('Looking for open times…');
    return api('/availability?from=' + state.windowStart).then(function (result) {
      setBusy(false);
      state.slots = (result.body.slots || []).map(function (slot) {
        return { iso: slot.start, start: new Date(slot.start), end: new Date(slot.end), same: slot.sameTechnician };
      });
      renderTimes();
    }, fail);
  }

  function groupByDay() {
    var days = [];
    var byKey = {};
    state.slots.forEach(function (slot) {
      var key = dayKey(slot.start);
      if (!byKey[key]) { byKey[key] = { key: key, date: slot.start, slots: [] }; days.push(byKey[key]); }
      byKey[key].slots.push(slot);
    });
    return days;
  }

  /* Customers mostly want the technician they know: open on the first day they have a time, if any. */
  function firstDay(days) {
    return days.filter(function (d) { return d.slots.some(function (s) { return s.same; }); })[0] || days[0];
  }

  function renderTimes() {
    var days = groupByDay();
    $('fd-range-label').textContent = rangeLabel(state.windowStart) + ' – ' +
      rangeLabel(addDays(state.windowStart, WINDOW_DAYS - 1));
    $('fd-earlier').disabled = state.windowStart <= dayKey(new Date());
    var list = $('fd-days');
    list.textContent = '';
    $('fd-move-confirm').hidden = true;
    if (!days.length) {
      ['fd-h-same', 'fd-h-other'].forEach(function (id) { $(id).hidden = true; });
      $('fd-slots-same').textContent = '';
      $('fd-slots-other').textContent = '';
      $('fd-no-times').textContent = 'No open times in these days. Try later dates.';
      $('fd-no-times').hidden = false;
      status('No open times between ' + $('fd-range-label').textContent + '.');
      return;
    }
    $('fd-no-times').hidden = true;
    if (!state.day || !days.some(function (d) { return d.key === state.day; })) state.day = firstDay(days).key;
    days.forEach(function (day) {
      var item = el('li');
      var button = el('button', 'fd-day', dayLabel(day.date));
      button.type = 'button';
      button.appendChild(el('small', null, day.slots.length + (day.slots.length === 1 ? ' time' : ' times')));
      button.setAttribute('aria-pressed', String(day.key === state.day));
      button.addEventListener('click', function () {
        state.day = day.key;
        renderTimes();
        var first = document.querySelector('#fd-slots-same button, #fd-slots-other button');
        if (first) first.focus();
      });
      item.appendChild(button);
      list.appendChild(item);
    });
    renderSlots(days.filter(function (d) { return d.key === state.day; })[0]);
    status(state.slots.length + (state.slots.length === 1 ? ' open time' : ' open times') + ' in these days.');
  }

  /* The customer's own technician first, then the times only someone else can take. */
  function renderSlots(day) {
    var same = day.slots.filter(function (s) { return s.same; });
    var other = day.slots.filter(function (s) { return !s.same; });
    var who = state.booking.technician;
    $('fd-h-same').textContent = (who ? 'With ' + who : 'Open times') + ' on ' + longDay(day.date);
    $('fd-h-other').textContent = 'With another technician on ' + longDay(day.date);
    fill('fd-slots-same', 'fd-h-same', same);
    fill('fd-slots-other', 'fd-h-other', other);
  }

  function fill(listId, headingId, slots) {
    var list = $(listId);
    list.textContent = '';
    $(headingId).hidden = !slots.length;
    slots.forEach(function (slot) {
      var item = el('li');
      var button = el('button', 'fd-slot', timeLabel(slot.start));
      button.type = 'button';
      button.setAttribute('aria-label', timeLabel(slot.start) + ', ' + longDay(slot.start) + ' (' +
        zoneLabel(slot.start) + ')' + (slot.same ? '' : ', another technician'));
      button.setAttribute('aria-pressed', String(!!state.chosen && state.chosen.iso === slot.iso));
      button.dataset.start = slot.iso;
      button.addEventListener('click', function () { choose(slot); });
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function whenLabel(slot) {
    return longDay(slot.start) + ', ' + timeLabel(slot.start) + ' (' + zoneLabel(slot.start) + ')';
  }

  function choose(slot) {
    state.chosen = slot;
    renderSlots(groupByDay().filter(function (d) { return d.key === state.day; })[0]);
    $('fd-move-text').textContent = 'Move your appointment to ' + whenLabel(slot) + '?' +
      (slot.same || !state.booking.technician ? '' : ' Another technician will come.');
    $('fd-move-confirm').hidden = false;
    $('fd-move-yes').focus();
  }

  function move() {
    if (state.busy || !state.chosen) return;
    var slot = state.chosen;
    hideAlert();
    setBusy(true);
    status('Moving your appointment…');
    post('/reschedule', { start: slot.iso }).then(function (result) {
      setBusy(false);
      state.booking = result.body;
      if (result.body.manageUrl) {
        // The link of the new time: it stays valid as long as the appointment does.
        var path = new URL(result.body.manageUrl, location.href).pathname;
        history.replaceState(null, '', path);
        state.base = path.replace(/\/+$/, '');
      }
      showBooking();
      state.chosen = null;
      state.slots = [];
      $('fd-step-time').hidden = true;
      status('Your appointment is moved to ' + whenLabel(slot) + '. We have sent you a text.');
      $('fd-title').focus();
    }, function (error) {
      if (error.code === 'slot_unavailable') {
        state.chosen = null;
        showAlert('That time was just taken. Please choose another.');
        return loadTimes();
      }
      fail(error);
    });
  }

  function showBooking() {
    var view = state.booking;
    [['fd-when', view.when], ['fd-technician', view.technician], ['fd-where', view.where]].forEach(function (pair) {
      if ($(pair[0]) && pair[1]) $(pair[0]).textContent = pair[1];
    });
  }

  // ------------------------------------------------------------------ cancel

  function askCancel() {
    hideAlert();
    $('fd-step-time').hidden = true;
    $('fd-step-cancel').hidden = false;
    $('fd-h-cancel').focus();
  }

  function keep(headingStep) {
    $(headingStep).hidden = true;
    status('');
    $('fd-reschedule').focus();
  }

  function cancel() {
    if (state.busy) return;
    hideAlert();
    setBusy(true);
    status('Cancelling your appointment…');
    post('/cancel').then(function () {
      setBusy(false);
      ['fd-step-cancel', 'fd-actions', 'fd-booking'].forEach(function (id) { $(id).hidden = true; });
      $('fd-step-cancelled').hidden = false;
      status('');  // the heading says it, and focus on it announces it
      $('fd-h-cancelled').focus();
    }, fail);
  }

  // ------------------------------------------------------------------ wiring

  $('fd-actions').hidden = false;
  $('fd-reschedule').addEventListener('click', openTimes);
  $('fd-cancel').addEventListener('click', askCancel);
  $('fd-cancel-yes').addEventListener('click', cancel);
  $('fd-cancel-no').addEventListener('click', function () { keep('fd-step-cancel'); });
  $('fd-keep-time').addEventListener('click', function () { keep('fd-step-time'); });
  $('fd-move-yes').addEventListener('click', move);
  $('fd-earlier').addEventListener('click', function () {
    state.windowStart = addDays(state.windowStart, -WINDOW_DAYS);
    if (state.windowStart < dayKey(new Date())) state.windowStart = dayKey(new Date());
    state.day = null;
    loadTimes();
  });
  $('fd-later').addEventListener('click', function () {
    state.windowStart = addDays(state.windowStart, WINDOW_DAYS);
    state.day = null;
    loadTimes();
  });
})();
