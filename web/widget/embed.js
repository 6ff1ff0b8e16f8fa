/*
 * Frontdesk one-tag embed: <script src="https://<app>/api/widget/embed.js" data-event-type="..." async></script>
 *
 * Puts the booking widget in an iframe right where the tag is (or inside data-target="#some-id"), passes
 * the page's utm_* parameters along, grows the frame to the widget's height, and raises a
 * "frontdesk:booked" DOM event on the frame (bubbling to the document) when someone books.
 * Messages are only believed from the widget's own origin and its own frame.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.src) return;
  var src = new URL(script.src);
  var widgetUrl = new URL(src.pathname.replace(/\/embed\.js$/, ''), src.origin);
  var params = new URLSearchParams();
  var eventType = script.getAttribute('data-event-type');
  if (eventType) params.set('eventType', eventType);
  new URLSearchParams(location.search).forEach(function (value, key) {
    if (/^utm_[a-z]{1,20}$/.test(key)) params.set(key, value.slice(0, 100));
  });
  widgetUrl.search = params.toString();

  var frame = document.createElement('iframe');
  frame.src = widgetUrl.href;
  frame.title = script.getAttribute('data-title') || 'Book an appointment';
  frame.style.width = '100%';
  frame.style.maxWidth = script.getAttribute('data-max-width') || '40rem';
  frame.style.height = (parseInt(script.getAttribute('data-height'), 10) || 640) + 'px';
  frame.style.border = '0';
  frame.style.display = 'block';

  var target = script.getAttribute('data-target') && document.querySelector(script.getAttribute('data-target'));
  if (target) target.appendChild(frame);
  else script.parentNode.insertBefore(frame, script.nextSibling);

  window.addEventListener('message', function (event) {
    if (event.origin !== src.origin || event.source !== frame.contentWindow) return;
    var data = event.data || {};
    if (data.type === 'frontdesk:resize' && data.height > 0) {
      frame.style.height = Math.min(Math.ceil(data.height), 5000) + 'px';
    } else if (data.type === 'frontdesk:booked') {
      frame.dispatchEvent(new CustomEvent('frontdesk:booked', { bubbles: true, detail: data }));
    }
  });
}());
