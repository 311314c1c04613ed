// The audit page's live tail: the console's own event stream (behind the session cookie; the
// browser never holds a token), each new event at the top of the list.
"use strict";
(function () {
  var list = document.getElementById("tail");
  var state = document.getElementById("tail-state");
  if (!list || !state || !window.EventSource) { return; }
  var source = new EventSource(state.getAttribute("data-stream"));
  var fields = ["at", "event", "subject", "client_id", "actor", "source_address", "reason", "detail"];
  source.addEventListener("audit", function (message) {
    var event = JSON.parse(message.data);
    var item = document.createElement("li");
    item.textContent = fields.filter(function (name) { return event[name]; })
      .map(function (name) { return name === "at" || name === "event" ? event[name] : name + "=" + event[name]; })
      .join(" ");
    list.insertBefore(item, list.firstChild);
    while (list.children.length > 200) { list.removeChild(list.lastChild); }
  });
  source.addEventListener("end", function () {
    source.close();
    state.textContent = "The live tail has ended: reload the page to sign in again.";
  });
  source.onopen = function () { state.textContent = "Live: new events appear here as they are recorded."; };
}());
