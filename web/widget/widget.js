/*
 * Frontdesk booking widget: choose a service, pick an open time in your own time zone, leave your details,
 * book, and take the appointment home as an .ics file.
 *
 * It talks only to the function app that served it (same origin): GET event-types, GET availability,
 * POST bookings (with the widget's function key and an Idempotency-Key generated once per attempt and
 * reused when that same attempt is retried), GET bookings/{id} while a booking is still being made.
 * Embedded in a frame, it tells the embedding page (only an allowed origin) its height and the booking,
 * and accepts a prefill (the Dynamics 365 web resource: the record, its owner, the customer's details).
 * No framework, no build step: plain DOM, text nodes only (nothing a visitor types is parsed as HTML).
 */
(function () {
  'use strict';

  var WINDOW_DAYS = 7;
  var EMPTY_WINDOWS_TO_SKIP = 3;   // on first load, look a few weeks ahead before saying "nothing open"
  var POLL_LIMIT_MS = 60000;
  var FIELDS = ['name', 'phone', 'email', 'address', 'postalCode', 'notes'];
  var EMAIL = /^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$/;
  var MESSAGES = {
    name: 'Enter your name.',
    phoneRequired: 'Enter a phone number we can text.',
    phoneInvalid: 'Enter a phone number such as (312) 555-0142, or with its country code: +44 20 7946 0958.',
    emailRequired: 'Enter your e-mail address.',
    emailInvalid: 'Enter an e-mail address such as name@example.com.',
    address: 'Enter the street address where we should come.',
    postalCode: 'Enter your ZIP or postal code.',
    notes: 'Tell us a little about what you need.'
  };

  var $ = function (id) { return document.getElementById(id); };
  var config = readConfig();
  var apiBase = new URL('./', location.href);   // the page is /api/widget, so this is /api/
  var query = new URLSearchParams(location.search);
  var locale = navigator.language || 'en-US';

  var state = {
    business: null,
    eventTypes: [],
    eventType: null,
    timeZone: visitorZone(),
    windowStart: null,   // the first local day shown, 'YYYY-MM-DD' in the chosen zone
    slots: [],
    day: null,
    slot: null,
    postalCode: null,
    context: { channel: 'widget', source: campaign() },
    functionKey: config.functionKey || null,
    attempt: null,       // {key, body}: one Idempotency-Key per distinct request, reused on retry
    busy: false,
    parentOrigin: embeddingOrigin(),
    icsUrl: null
  };

  // ------------------------------------------------------------------ configuration and environment

  function readConfig() {
    try {
      return JSON.parse($('fd-config').textContent) || {};
    } catch (e) {
      return {};
    }
  }

  function visitorZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    } catch (e) {
      return 'UTC';
    }
  }

  function campaign() {
    var source = {};
    query.forEach(function (value, key) {
      if (/^utm_[a-z]{1,20}$/.test(key)) source[key] = value.slice(0, 100);
    });
    return source;
  }

  function originAllowed(origin) {
    if (!origin || origin === 'null') return false;
    if (origin === location.origin) return true;
    return (config.allowedOrigins || []).some(function (pattern) {
      if (pattern === origin) return true;
      var wildcard = pattern.indexOf('://*.');
      if (wildcard < 0) return false;
      var scheme = pattern.slice(0, wildcard + 3);
      var suffix = pattern.slice(wildcard + 4);   // ".example.com"
      return origin.indexOf(scheme) === 0 && origin.slice(-suffix.length) === suffix;
    });
  }

  function embeddingOrigin() {
    if (window.parent === window) return null;
    var origin = null;
    if (location.ancestorOrigins && location.ancestorOrigins.length) origin = location.ancestorOrigins[0];
    if (!origin && document.referrer) {
      try { origin = new URL(document.referrer).origin; } catch (e) { origin = null; }
    }
    return originAllowed(origin) ? origin : null;
  }

  function tell(message) {
    if (!state.parentOrigin) return;
    message.source = 'frontdesk';
    window.parent.postMessage(message, state.parentOrigin);
  }

  // ------------------------------------------------------------------ talking to the API

  function ApiError(status, code, message, details, alternatives, retryAfter) {
    this.status = status;
    this.code = code || 'error';
    this.message = message || 'Something went wrong.';
    this.details = details || [];
    this.alternatives = alternatives || [];
    this.retryAfter = retryAfter;
  }

  function api(path, options) {
    var url = new URL(path, apiBase);
    var init = Object.assign({ credentials: 'omit', cache: 'no-store' }, options || {});
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (response.ok) return { status: response.status, body: body, headers: response.headers };
        var error = (body && body.error) || {};
        throw new ApiError(response.status, error.code, error.message, error.details,
          error.alternatives || (body && body.alternatives), response.headers.get('Retry-After'));
      });
    }, function () {
      throw new ApiError(0, 'network', 'We could not reach the booking service. Check your connection and try again.');
    });
  }

  function bookingHeaders(key) {
    var headers = { 'Content-Type': 'application/json', 'Idempotency-Key': key };
    if (state.functionKey) headers['x-functions-key'] = state.functionKey;
    return headers;
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  // ------------------------------------------------------------------ announcing

  function status(text) {
    $('fd-status').textContent = text || '';
  }

  function showAlert(text, canRetry) {
    $('fd-alert-text').textContent = text;
    $('fd-retry').hidden = !canRetry;
    $('fd-alert').hidden = false;
  }

  function hideAlert() {
    $('fd-alert').hidden = true;
  }

  function focusHeading(id) {
    var heading = $(id);
    if (heading) heading.focus();
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // ------------------------------------------------------------------ time formatting (visitor's zone)

  function formatter(options) {
    return new Intl.DateTimeFormat(locale, Object.assign({ timeZone: state.timeZone }, options));
  }

  function dayKey(date) {
    return new Intl.DateTimeFormat('en-CA', {
      timeZone: state.timeZone, year: 'numeric', month: '2-digit', day: '2-digit'
    }).format(date);
  }

  function dayLabel(date) {
    return formatter({ weekday: 'short', month: 'short', day: 'numeric' }).format(date);
  }

  function longDay(date) {
    return formatter({ weekday: 'long', month: 'long', day: 'numeric' }).format(date);
  }

  function timeLabel(date) {
    return formatter({ hour: 'numeric', minute: '2-digit' }).format(date);
  }

  function zoneLabel(date) {
    var part = formatter({ timeZoneName: 'short' }).formatToParts(date)
      .filter(function (p) { return p.type === 'timeZoneName'; })[0];
    return part ? part.value : state.timeZone;
  }

  function whenLabel(start, end) {
    var text = longDay(start) + ', ' + timeLabel(start);
    if (end) text += ' to ' + timeLabel(end);
    return text + ' (' + zoneLabel(start) + ')';
  }

  // ------------------------------------------------------------------ step 1: the service

  function loadEventTypes() {
    status('Loading services…');
    return api('event-types').then(function (result) {
      state.business = result.body.business || null;
      state.eventTypes = result.body.eventTypes || [];
      if (state.business && state.business.name) $('fd-business').textContent = state.business.name;
      renderServices();
      status('');
      var wanted = query.get('eventType');
      var preset = state.eventTypes.filter(function (t) { return t.key === wanted; })[0];
      if (preset) chooseService(preset, false);
    }, function (error) {
      status('');
      showAlert(error.status === 429 ? 'Too many requests right now. Please wait a moment and reload.'
        : 'We could not load our services. ' + callUs(), false);
    });
  }

  function renderServices() {
    var list = $('fd-services');
    list.textContent = '';
    state.eventTypes.forEach(function (type) {
      var item = el('li');
      var button = el('button', 'fd-choice');
      button.type = 'button';
      button.appendChild(el('strong', null, type.name));
      var facts = [type.durationMinutes + ' min', locationText(type.locationKind)];
      button.appendChild(el('span', null, facts.join(' · ')));
      if (type.description) button.appendChild(el('span', 'fd-desc', ' — ' + type.description));
      button.addEventListener('click', function () { chooseService(type, true); });
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function locationText(kind) {
    return { onsite: 'at your address', phone: 'by phone', teams: 'video call (Teams)' }[kind] || '';
  }

  function chooseService(type, moveFocus) {
    state.eventType = type;
    state.slot = null;
    state.day = null;
    state.attempt = null;
    $('fd-service-chosen').textContent = type.name + ' (' + type.durationMinutes + ' min)';
    configureFields(type);
    showStep('time');
    state.windowStart = dayKey(new Date());
    loadTimes(EMPTY_WINDOWS_TO_SKIP).then(function () {
      if (moveFocus) focusHeading('fd-h-time');
    });
  }

  // ------------------------------------------------------------------ step 2: the time

  // Windows are whole local days: the API reads a bare date as that day in the requested zone.
  function addDays(day, count) {
    var parts = day.split('-').map(Number);
    return new Date(Date.UTC(parts[0], parts[1] - 1, parts[2] + count)).toISOString().slice(0, 10);
  }

  function lastDay() {
    return addDays(dayKey(new Date()), state.eventType.maximumAdvanceDays || 60);
  }

  function windowEnd() {
    var end = addDays(state.windowStart, WINDOW_DAYS - 1);
    return end < lastDay() ? end : lastDay();
  }

  function labelOfDay(day) {
    var parts = day.split('-').map(Number);
    return new Intl.DateTimeFormat(locale, { timeZone: 'UTC', weekday: 'short', month: 'short', day: 'numeric' })
      .format(new Date(Date.UTC(parts[0], parts[1] - 1, parts[2], 12)));
  }

  function loadTimes(skipEmpty) {
    var type = state.eventType;
    var end = windowEnd();
    var params = new URLSearchParams({
      eventType: type.key, start: state.windowStart, end: end, timeZone: state.timeZone
    });
    if (state.postalCode) params.set('postalCode', state.postalCode);
    status('Loading open times…');
    $('fd-days').setAttribute('aria-busy', 'true');
    hideAlert();
    return api('availability?' + params.toString()).then(function (result) {
      if (type !== state.eventType) return null;
      state.slots = (result.body.slots || []).map(function (slot) {
        return { start: new Date(slot.start), end: new Date(slot.end), iso: slot.start, hostIds: slot.hostIds || [] };
      });
      if (!state.slots.length && skipEmpty > 0 && end < lastDay()) {
        state.windowStart = addDays(end, 1);
        return loadTimes(skipEmpty - 1);
      }
      renderTimes();
      return null;
    }, function (error) {
      status('');
      showAlert(error.status === 429 ? 'Too many requests right now. Please wait a moment and try again.'
        : 'We could not load open times. ' + (error.status ? callUs() : error.message), false);
    }).then(function (value) {
      $('fd-days').setAttribute('aria-busy', 'false');
      return value;
    });
  }

  function groupByDay() {
    var days = [];
    var index = {};
    state.slots.forEach(function (slot) {
      var key = dayKey(slot.start);
      if (!index[key]) {
        index[key] = { key: key, date: slot.start, slots: [] };
        days.push(index[key]);
      }
      index[key].slots.push(slot);
    });
    return days;
  }

  function renderTimes() {
    var days = groupByDay();
    var end = windowEnd();
    $('fd-range-label').textContent = labelOfDay(state.windowStart) + ' – ' + labelOfDay(end);
    $('fd-earlier').disabled = state.windowStart <= dayKey(new Date());
    $('fd-later').disabled = end >= lastDay();
    var list = $('fd-days');
    list.textContent = '';
    if (!days.length) {
      $('fd-no-times').textContent = 'No open times in these days. Try later dates.';
      $('fd-no-times').hidden = false;
      $('fd-h-slots').hidden = true;
      $('fd-slots').textContent = '';
      status('No open times between ' + $('fd-range-label').textContent + '.');
      return;
    }
    $('fd-no-times').hidden = true;
    if (!state.day || !days.some(function (d) { return d.key === state.day; })) state.day = days[0].key;
    days.forEach(function (day) {
      var item = el('li');
      var button = el('button', 'fd-day', dayLabel(day.date));
      button.type = 'button';
      button.appendChild(el('small', null, day.slots.length + (day.slots.length === 1 ? ' time' : ' times')));
      button.setAttribute('aria-pressed', String(day.key === state.day));
      button.dataset.day = day.key;
      button.addEventListener('click', function () {
        state.day = day.key;
        renderTimes();
        var first = $('fd-slots').querySelector('button');
        status(day.slots.length + ' open times on ' + longDay(day.date) + '.');
        if (first) first.focus();
      });
      item.appendChild(button);
      list.appendChild(item);
    });
    var chosen = days.filter(function (d) { return d.key === state.day; })[0];
    renderSlots(chosen);
    var total = state.slots.length;
    status(total + (total === 1 ? ' open time' : ' open times') + ' on ' + days.length +
      (days.length === 1 ? ' day' : ' days') + ', shown in ' + zoneLabel(state.slots[0].start) + '.');
  }

  function renderSlots(day) {
    var list = $('fd-slots');
    list.textContent = '';
    $('fd-h-slots').hidden = false;
    $('fd-h-slots').textContent = 'Open times on ' + longDay(day.date);
    day.slots.forEach(function (slot) {
      list.appendChild(slotItem(slot, function () { chooseSlot(slot); }));
    });
  }

  function slotItem(slot, onChoose, withDay) {
    var item = el('li');
    var label = withDay ? longDay(slot.start) + ', ' + timeLabel(slot.start) : timeLabel(slot.start);
    var button = el('button', 'fd-slot', label);
    button.type = 'button';
    // The name starts with what is shown (speech input users say what they see), then the day and zone.
    if (!withDay) button.setAttribute('aria-label', timeLabel(slot.start) + ', ' + longDay(slot.start) +
      ' (' + zoneLabel(slot.start) + ')');
    button.dataset.start = slot.iso;
    button.setAttribute('aria-pressed', String(!!state.slot && state.slot.iso === slot.iso));
    button.addEventListener('click', onChoose);
    item.appendChild(button);
    return item;
  }

  function moveWindow(days) {
    var start = addDays(state.windowStart, days);
    var today = dayKey(new Date());
    state.windowStart = start < today ? today : start;
    state.day = null;
    loadTimes(0);
  }

  function chooseSlot(slot) {
    state.slot = slot;
    $('fd-time-chosen').textContent = whenLabel(slot.start, slot.end);
    $('fd-conflict').hidden = true;
    showStep('details');
    status('You picked ' + whenLabel(slot.start) + '. Now your details.');
    focusHeading('fd-h-details');
  }

  function populateZones() {
    var select = $('fd-tz');
    var zones = [];
    try { zones = Intl.supportedValuesOf('timeZone'); } catch (e) { zones = []; }
    if (zones.indexOf(state.timeZone) < 0) zones.unshift(state.timeZone);
    var business = state.business && state.business.timeZone;
    if (business && zones.indexOf(business) < 0) zones.unshift(business);
    zones.forEach(function (zone) {
      var option = el('option', null, zone.replace(/_/g, ' '));
      option.value = zone;
      if (zone === state.timeZone) option.selected = true;
      select.appendChild(option);
    });
  }

  function changeZone() {
    state.timeZone = $('fd-tz').value;
    if (state.slot) $('fd-time-chosen').textContent = whenLabel(state.slot.start, state.slot.end);
    if (!state.eventType || !state.windowStart) return;
    var today = dayKey(new Date());
    if (state.windowStart < today) state.windowStart = today;
    loadTimes(0);   // the window is whole days in the zone, so it is asked for again
  }

  // ------------------------------------------------------------------ step 3: the details

  function configureFields(type) {
    var required = {};
    (type.requiredFields || ['name']).forEach(function (name) { required[name] = true; });
    required.name = true;
    var onsite = type.locationKind === 'onsite';
    FIELDS.forEach(function (name) {
      var field = document.querySelector('[data-field="' + name + '"]');
      var input = $('fd-' + name);
      var label = field.querySelector('label');
      if (!label.dataset.text) label.dataset.text = label.textContent;
      var shown = required[name] || name === 'phone' || name === 'email' || name === 'notes' ||
        (onsite && (name === 'address' || name === 'postalCode'));
      field.hidden = !shown;
      input.required = !!required[name];
      input.setAttribute('aria-required', String(!!required[name]));
      label.textContent = label.dataset.text + (required[name] ? '' : ' (optional)');
    });
    $('fd-phone-hint').textContent = type.locationKind === 'phone'
      ? 'We call you on this number, and text your confirmation to it.'
      : 'We text your confirmation here.';
  }

  function value(name) {
    return $('fd-' + name).value.trim();
  }

  function toE164(raw) {
    var text = raw.trim();
    var international = text.charAt(0) === '+' || text.indexOf('00') === 0;
    var digits = text.replace(/\D/g, '');
    if (text.indexOf('00') === 0) digits = digits.slice(2);
    if (!international) {
      var code = config.phoneCountryCode || '1';
      if (code === '1') {
        if (digits.length === 11 && digits.charAt(0) === '1') digits = digits.slice(1);
        if (digits.length !== 10) return null;
      } else {
        digits = digits.replace(/^0/, '');
      }
      digits = code + digits;
    }
    return /^[1-9]\d{6,14}$/.test(digits) ? '+' + digits : null;
  }

  function collect() {
    var errors = {};
    var customer = {};
    var type = state.eventType;
    FIELDS.forEach(function (name) {
      var field = document.querySelector('[data-field="' + name + '"]');
      if (field.hidden) return;
      var text = value(name);
      var required = $('fd-' + name).required;
      if (!text) {
        if (required) errors[name] = name === 'phone' ? MESSAGES.phoneRequired
          : name === 'email' ? MESSAGES.emailRequired : MESSAGES[name];
        return;
      }
      if (name === 'phone') {
        var phone = toE164(text);
        if (!phone) errors.phone = MESSAGES.phoneInvalid;
        else customer.phone = phone;
      } else if (name === 'email') {
        if (!EMAIL.test(text)) errors.email = MESSAGES.emailInvalid;
        else customer.email = text;
      } else {
        customer[name] = text;
      }
    });
    return { errors: errors, customer: customer, type: type };
  }

  function clearErrors() {
    FIELDS.forEach(function (name) { setFieldError(name, null); });
  }

  function setFieldError(name, message) {
    var input = $('fd-' + name);
    var error = $('fd-' + name + '-error');
    if (!input || !error) return;
    if (message) {
      input.setAttribute('aria-invalid', 'true');
      error.textContent = message;
      error.hidden = false;
    } else {
      input.removeAttribute('aria-invalid');
      error.textContent = '';
      error.hidden = true;
    }
  }

  function showFieldErrors(errors) {
    var names = FIELDS.filter(function (name) { return errors[name]; });
    names.forEach(function (name) { setFieldError(name, errors[name]); });
    if (names.length) {
      status(names.length === 1 ? 'One field needs your attention.' : names.length + ' fields need your attention.');
      $('fd-' + names[0]).focus();
    }
    return names.length;
  }

  // ------------------------------------------------------------------ booking

  function requestBody(customer) {
    var body = {
      eventType: state.eventType.key,
      start: state.slot.iso,
      timeZone: state.timeZone,
      customer: customer,
      context: state.context
    };
    return JSON.stringify(body);
  }

  function submit(event) {
    event.preventDefault();
    if (state.busy) return;
    hideAlert();
    clearErrors();
    var collected = collect();
    if (showFieldErrors(collected.errors)) return;
    var body = requestBody(collected.customer);
    if (!state.attempt || state.attempt.body !== body) state.attempt = { key: newKey(), body: body };
    send(state.attempt);
  }

  function setBusy(busy) {
    state.busy = busy;
    var button = $('fd-submit');
    button.setAttribute('aria-disabled', String(busy));
    button.textContent = busy ? 'Booking…' : 'Book appointment';
    $('fd-form').setAttribute('aria-busy', String(busy));
  }

  function send(attempt) {
    if (!state.functionKey) {
      showAlert('Online booking is not switched on yet. ' + callUs(), false);
      return Promise.resolve();
    }
    setBusy(true);
    hideAlert();
    status('Booking your appointment…');
    return api('bookings', { method: 'POST', headers: bookingHeaders(attempt.key), body: attempt.body })
      .then(function (result) {
        return result.status === 202 ? waitForBooking(result.body) : result.body;
      })
      .then(function (booking) {
        if (state.attempt === attempt) state.attempt = null;
        confirmed(booking);
      }, bookingFailed)
      .then(function () { setBusy(false); });
  }

  function waitForBooking(pending) {
    var deadline = Date.now() + POLL_LIMIT_MS;
    var path = 'bookings/' + encodeURIComponent(pending.bookingId);
    status('Almost done: confirming your appointment…');
    function poll() {
      return sleep(1000).then(function () {
        return api(path, { headers: state.functionKey ? { 'x-functions-key': state.functionKey } : {} });
      }).then(function (result) {
        if (result.status !== 202) return result.body;
        if (Date.now() > deadline) {
          throw new ApiError(504, 'still_working', 'Your booking is taking longer than usual. ' +
            'Try again in a minute: you will not be booked twice.');
        }
        return poll();
      });
    }
    return poll();
  }

  function bookingFailed(error) {
    if (error.status === 409) return showConflict(error);
    if (error.status === 422) return showServerErrors(error);
    if (error.status === 401 || error.status === 403) {
      return showAlert('Online booking is not available right now. ' + callUs(), false);
    }
    if (error.status === 429) {
      return showAlert('Too many booking attempts from here. Please wait a minute, then try again.', true);
    }
    status('');
    showAlert(error.status === 0 || error.status === 504 ? error.message
      : 'We could not finish your booking, and nothing was booked. Please try again.', true);
    $('fd-retry').focus();
  }

  function showConflict(error) {
    state.attempt = null;
    var taken = state.slot;
    state.slots = state.slots.filter(function (slot) { return !taken || slot.iso !== taken.iso; });
    var alternatives = (error.alternatives || []).map(function (slot) {
      return { start: new Date(slot.start), end: new Date(slot.end), iso: slot.start, hostIds: slot.hostIds || [] };
    });
    var when = taken ? timeLabel(taken.start) + ' on ' + longDay(taken.start) : 'That time';
    var text = alternatives.length
      ? 'Sorry, ' + when + ' was just taken. These are the nearest open times; your details are kept:'
      : 'Sorry, ' + when + ' was just taken. Please pick another time; your details are kept.';
    $('fd-conflict-text').textContent = text;
    var list = $('fd-alternatives');
    list.textContent = '';
    alternatives.forEach(function (slot) {
      list.appendChild(slotItem(slot, function () { chooseAlternative(slot); }, true));
    });
    if (!alternatives.length) {
      var item = el('li');
      var button = el('button', 'fd-button fd-secondary', 'Pick another time');
      button.type = 'button';
      button.addEventListener('click', changeTime);
      item.appendChild(button);
      list.appendChild(item);
    }
    $('fd-conflict').hidden = false;
    status(text);
    var first = list.querySelector('button');
    if (first) first.focus();
  }

  function chooseAlternative(slot) {
    state.slot = slot;
    $('fd-time-chosen').textContent = whenLabel(slot.start, slot.end);
    $('fd-conflict').hidden = true;
    status('You picked ' + whenLabel(slot.start) + '. Book it when you are ready.');
    $('fd-submit').focus();
  }

  function showServerErrors(error) {
    var errors = {};
    var other = [];
    (error.details || []).forEach(function (detail) {
      var path = String(detail.field || '');
      var name = path.indexOf('customer.') === 0 ? path.slice(9) : null;
      var message = detail.message ? capitalise(detail.message) + '.' : 'Check this field.';
      if (name && FIELDS.indexOf(name) >= 0 && !document.querySelector('[data-field="' + name + '"]').hidden) {
        errors[name] = message;
      } else if (path === 'start') {
        other.push('The time you picked ' + (detail.message || 'cannot be booked') + '. Please pick another time.');
      } else {
        other.push(detail.message ? (path ? path + ': ' : '') + detail.message : error.message);
      }
    });
    if (!showFieldErrors(errors) || other.length) {
      showAlert(other.length ? other.join(' ') : error.message, false);
    }
  }

  function capitalise(text) {
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function callUs() {
    var phone = state.business && state.business.phone;
    return phone ? 'Please call us at ' + phone + '.' : 'Please call us.';
  }

  // ------------------------------------------------------------------ step 4: the confirmation

  function confirmed(booking) {
    var type = state.eventType;
    var start = new Date(booking.start);
    var end = new Date(booking.end);
    var customer = booking.customer || {};
    $('fd-done-service').textContent = type.name;
    $('fd-done-when').textContent = whenLabel(start, end);
    $('fd-done-where').textContent = whereText(type, customer);
    $('fd-done-ref').textContent = booking.id;
    $('fd-done-note').textContent = customer.phone
      ? 'A confirmation is on its way to your phone' + (customer.email ? ' and e-mail.' : '.')
      : (customer.email ? 'A confirmation is on its way to your e-mail.' : '');
    if (state.icsUrl) URL.revokeObjectURL(state.icsUrl);
    state.icsUrl = URL.createObjectURL(new Blob([icsFor(booking, type, start, end)], { type: 'text/calendar' }));
    var link = $('fd-ics');
    link.href = state.icsUrl;
    link.download = 'appointment-' + dayKey(start) + '.ics';
    showStep('done');
    status('Booked. Your reference is ' + booking.id + '.');
    focusHeading('fd-h-done');
    tell({
      type: 'frontdesk:booked', bookingId: booking.id, status: booking.status, eventType: type.key,
      start: booking.start, end: booking.end
    });
  }

  function whereText(type, customer) {
    if (type.locationKind === 'phone') return 'By phone: we call ' + (customer.phone || 'you') + '.';
    if (type.locationKind === 'teams') return 'Microsoft Teams: the link comes by e-mail.';
    return [customer.address, customer.postalCode].filter(Boolean).join(', ') || 'At your address';
  }

  function icsStamp(date) {
    return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  }

  function icsText(text) {
    return String(text).replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
  }

  // RFC 5545: content lines longer than 75 octets are folded (CRLF + one space).
  function fold(line) {
    var encoder = new TextEncoder();
    var out = [];
    var current = '';
    var size = 0;
    Array.from(line).forEach(function (ch) {
      var bytes = encoder.encode(ch).length;
      var limit = out.length ? 74 : 75;
      if (size + bytes > limit) {
        out.push(current);
        current = '';
        size = 0;
      }
      current += ch;
      size += bytes;
    });
    out.push(current);
    return out.join('\r\n ');
  }

  function icsFor(booking, type, start, end) {
    var business = (state.business && state.business.name) || 'Frontdesk';
    var customer = booking.customer || {};
    var location = type.locationKind === 'onsite' ? [customer.address, customer.postalCode].filter(Boolean).join(', ')
      : type.locationKind === 'teams' ? 'Microsoft Teams' : 'Phone';
    var description = type.name + ' with ' + business + '. Reference ' + booking.id + '.' +
      (state.business && state.business.phone ? ' Questions or changes: ' + state.business.phone + '.' : '');
    var lines = [
      'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Frontdesk//Booking widget//EN', 'CALSCALE:GREGORIAN',
      'METHOD:PUBLISH', 'BEGIN:VEVENT',
      'UID:' + booking.id + '@frontdesk',
      'DTSTAMP:' + icsStamp(new Date()),
      'DTSTART:' + icsStamp(start),
      'DTEND:' + icsStamp(end),
      'SUMMARY:' + icsText(type.name + ' (' + business + ')'),
      'LOCATION:' + icsText(location),
      'DESCRIPTION:' + icsText(description),
      'STATUS:CONFIRMED', 'TRANSP:OPAQUE', 'END:VEVENT', 'END:VCALENDAR'
    ];
    return lines.map(fold).join('\r\n') + '\r\n';
  }

  // ------------------------------------------------------------------ steps

  function showStep(step) {
    var order = ['service', 'time', 'details', 'done'];
    var at = order.indexOf(step);
    $('fd-step-service').hidden = step === 'done';
    $('fd-services').hidden = at > 0;
    $('fd-service-summary').hidden = at === 0;
    $('fd-step-time').hidden = at < 1 || step === 'done';
    $('fd-time-picker').hidden = at !== 1;
    $('fd-time-summary').hidden = at !== 2;
    $('fd-step-details').hidden = step !== 'details';
    $('fd-step-done').hidden = step !== 'done';
  }

  function changeService() {
    state.eventType = null;
    state.slot = null;
    state.attempt = null;
    hideAlert();
    showStep('service');
    status('Choose a service.');
    focusHeading('fd-h-service');
  }

  function changeTime() {
    state.slot = null;
    hideAlert();
    $('fd-conflict').hidden = true;
    showStep('time');
    loadTimes(0).then(function () { focusHeading('fd-h-time'); });
  }

  function bookAnother() {
    state.slot = null;
    state.attempt = null;
    changeService();
  }

  // ------------------------------------------------------------------ embedding: prefill and size

  function applyContext(data, origin) {
    state.parentOrigin = origin;
    var context = data.context || {};
    var clean = function (text, max) { return typeof text === 'string' && text ? text.slice(0, max) : null; };
    state.context = {
      channel: context.channel === 'dynamics' ? 'dynamics' : 'widget',
      source: state.context.source
    };
    var recordType = clean(context.dynamicsRecordType, 40);
    var recordId = clean(context.dynamicsRecordId, 100);
    if (recordType && recordId) {
      state.context.dynamicsRecordType = recordType;
      state.context.dynamicsRecordId = recordId;
    }
    if (clean(context.ownerId, 100)) state.context.ownerId = clean(context.ownerId, 100);
    if (clean(context.initiatedBy, 200)) state.context.initiatedBy = clean(context.initiatedBy, 200);
    if (clean(data.functionKey, 200)) state.functionKey = clean(data.functionKey, 200);
    var customer = data.customer || {};
    FIELDS.forEach(function (name) {
      var text = clean(customer[name], 4000);
      var input = $('fd-' + name);
      if (text && !input.value) input.value = text;
    });
    state.postalCode = clean(customer.postalCode, 20);
    var wanted = clean(data.eventType, 100);
    var preset = state.eventTypes.filter(function (t) { return t.key === wanted; })[0];
    if (preset && !state.eventType) chooseService(preset, false);
    else if (state.eventType && state.postalCode) loadTimes(0);
    status(data.label ? 'Booking for ' + clean(data.label, 200) + '. Their details are filled in.' : '');
  }

  function listen() {
    window.addEventListener('message', function (event) {
      if (event.source !== window.parent || window.parent === window || !originAllowed(event.origin)) return;
      var data = event.data;
      if (data && data.type === 'frontdesk:context') applyContext(data, event.origin);
    });
    if (window.parent !== window && window.ResizeObserver) {
      var last = 0;
      new ResizeObserver(function () {
        var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
        if (Math.abs(height - last) > 2) {
          last = height;
          tell({ type: 'frontdesk:resize', height: height });
        }
      }).observe(document.body);
    }
  }

  // ------------------------------------------------------------------ start

  function start() {
    showStep('service');
    $('fd-form').addEventListener('submit', submit);
    $('fd-change-service').addEventListener('click', changeService);
    $('fd-change-time').addEventListener('click', changeTime);
    $('fd-earlier').addEventListener('click', function () { moveWindow(-WINDOW_DAYS); });
    $('fd-later').addEventListener('click', function () { moveWindow(WINDOW_DAYS); });
    $('fd-tz').addEventListener('change', changeZone);
    $('fd-again').addEventListener('click', bookAnother);
    $('fd-retry').addEventListener('click', function () { if (state.attempt) send(state.attempt); });
    FIELDS.forEach(function (name) {
      $('fd-' + name).addEventListener('input', function () { setFieldError(name, null); });
    });
    listen();
    loadEventTypes().then(function () {
      populateZones();
      tell({ type: 'frontdesk:ready' });
    });
  }

  start();
}());
