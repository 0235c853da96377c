// Gateway pages inside the widget's iframe: tell the merchant page (and only it) what happened.
(function () {
  "use strict";
  var me = document.getElementById("ktwidget-page");
  if (!me) return;
  var origin = me.getAttribute("data-origin");
  var hash = me.getAttribute("data-hash");
  var status = me.getAttribute("data-status");
  var framed = window.parent && window.parent !== window;
  function post(message) {
    if (!framed || !origin) return false;
    message.source = "ktwidget";
    message.transaction_hash = hash;
    message.status = status;
    window.parent.postMessage(message, origin);
    return true;
  }
  post({ type: "ktwidget:status" });
  // Keys typed in this frame never reach the merchant's page: pass Esc on, so the modal closes.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" || event.key === "Esc") post({ type: "ktwidget:close" });
  });
  var button = document.getElementById("continue");
  if (button) {
    button.addEventListener("click", function (event) {
      if (post({ type: "ktwidget:navigate", url: button.href })) event.preventDefault();
    });
  }
})();
