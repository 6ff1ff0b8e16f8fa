/*
 * Frontdesk form script (optional, recommended): hands the form's Client API context to the Frontdesk web
 * resource the documented way, instead of letting it reach for parent.Xrm.Page.
 *
 * Upload as fd_/booking/form_onload.js, add it to the form's libraries, and register
 * Frontdesk.formOnLoad on the form's OnLoad event with "Pass execution context as first parameter" ticked.
 * If your web resource control is not named WebResource_frontdesk, change CONTROL below. Forms may destroy
 * and re-create a web resource when its tab is collapsed and expanded: register the same function on that
 * tab's TabStateChange event too (the web resource ignores a second hand-over).
 */
var Frontdesk = window.Frontdesk || {};

Frontdesk.CONTROL = 'WebResource_frontdesk';

Frontdesk.formOnLoad = function (executionContext) {
  'use strict';
  var formContext = executionContext.getFormContext();
  var control = formContext.getControl(Frontdesk.CONTROL);
  if (!control) return;
  control.getContentWindow().then(function (contentWindow) {
    if (contentWindow && typeof contentWindow.setClientApiContext === 'function') {
      contentWindow.setClientApiContext(Xrm, formContext);
    }
  });
};
