// Polls the page's API with the page's ETag and offers a reload once the data changed.
// The page works without it; it loads nothing from anywhere else.
"use strict";
(function () {
  var body = document.body;
  var url = body.getAttribute("data-poll");
  var notice = document.getElementById("refresh");
  if (!url || !notice || !window.fetch) { return; }
  var every = 15000;
  function poll() {
    var etag = body.getAttribute("data-etag") || "";
    fetch(url, { headers: { "If-None-Match": etag, "Accept": "application/json" },
                 cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        var tag = response.headers.get("ETag");
        if (response.status === 200 && tag && tag !== etag) {
          notice.hidden = false;
          return;
        }
        window.setTimeout(poll, every);
      })
      .catch(function () { window.setTimeout(poll, every * 4); });
  }
  window.setTimeout(poll, every);
}());
